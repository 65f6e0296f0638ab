"""From a model name and a budget to ranked candidates and a `Choice`: the decision pipeline
shared by `tags`, `pick`, `pull` and `sync`. No Click here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ollama_quantpick import artifacts as art
from ollama_quantpick import estimators
from ollama_quantpick import release as rel
from ollama_quantpick.budget import Budget
from ollama_quantpick.errors import InputError, NothingFits, UnknownModel
from ollama_quantpick.quants import data
from ollama_quantpick.release import Release
from ollama_quantpick.score import Candidate, Choice, Option, best_option, nothing_fits, rank
from ollama_quantpick.sizes import format_bytes, parse_uint, shown
from ollama_quantpick.tagname import HF_HOSTS, ModelRef, parse_tag


@dataclass
class Request:
    """One decision to make: the model(s), the budget and every resolved setting."""

    ref: ModelRef
    budget: Budget
    task: str = "general"
    ctx: int | None = None  # None: Ollama's default, and smaller contexts are explored
    kv_cache: str = "f16"
    prefer: str = "balanced"
    min_speed: float | None = None
    size: str | None = None  # "70b": only that parameter size competes
    size_from: str = "--size"  # who asked for `size`, for the messages: the flag or the config
    parallel: int | None = None  # OLLAMA_NUM_PARALLEL; None: the release's default
    release: Release = field(default_factory=Release)
    env: dict[str, str] = field(default_factory=dict)  # the OLLAMA_*/LLAMA_ARG_* server settings
    others: tuple[ModelRef, ...] = ()  # more models in the same decision (`pick qwen3 llama3.3`)

    @property
    def refs(self) -> list[ModelRef]:
        return [self.ref, *self.others]

    @property
    def label(self) -> str:
        return ", ".join(r.display for r in self.refs)


@dataclass
class Plan:
    """The decision's result: every option tried, the ranking shown and the choice."""

    request: Request
    listing: art.Listing
    ctx: int  # the context the ranking shows
    ctx_default: int
    ranked: list[Candidate] = field(default_factory=list)
    choice: Choice | None = None
    target: art.Artifact | None = None  # the artifact an explicit MODEL:TAG names
    options: list[Option] = field(default_factory=list)  # the (context, KV cache) ways tried
    listings: list[art.Listing] = field(default_factory=list)  # one per model, request order
    notes: list[str] = field(default_factory=list)  # what the plan itself must tell the user

    @property
    def warnings(self) -> list[str]:
        """What the command should tell the user about how the answer was reached (each once):
        a listing answered from an old cached copy, then what the listings collected."""
        from ollama_quantpick.http import describe_age

        listings = self.listings or [self.listing]
        stale = [f"note: network unavailable; using the cached copy from "
                 f"{describe_age(lst.page.age_s)} ago"
                 for lst in listings if getattr(lst.page, "stale", False)]
        return list(dict.fromkeys([*stale, *(w for lst in listings for w in lst.warnings),
                                   *self.notes]))

    @property
    def kv_cache(self) -> str:
        """The KV cache type the ranking is estimated at: the chosen option's (q8_0 when the pick
        needs OLLAMA_KV_CACHE_TYPE=q8_0), else the one asked."""
        if self.choice is not None:
            for opt in self.options:
                if opt.ranked is self.choice.ranked:
                    return opt.kv_cache
        return self.request.kv_cache



def budget_label(budget: Budget) -> str:
    if not budget.gpu_free:
        return f"CPU only, {format_bytes(budget.ram_bytes)} RAM"
    return f"{format_bytes(budget.vram_bytes)} VRAM + {format_bytes(budget.ram_bytes)} RAM"


def _wanted_size(size: str):
    """The parsed --size (`70b`, `30b-a3b`); InputError when it is no parameter size."""
    want = parse_tag(size.lower())
    if want.params_b is None:
        raise InputError(f"--size takes a parameter size such as 8b, 70b or 30b-a3b, not '{size}'")
    return want


def _nominal(a: art.Artifact) -> tuple[float | None, float | None]:
    """(params, active) as a tag names them: a Hub repo's header count (32.8) read as the size
    its name gives (32b), as --size and the capability table spell it."""
    from ollama_quantpick.capability import hub_size

    return hub_size(a.name.rsplit(":", 1)[0], a.params_b, a.active_params_b)


def _has_size(a: art.Artifact, want) -> bool:
    params, active = _nominal(a)
    return params == want.params_b and (
        want.active_params_b is None or active == want.active_params_b)


def _size_filter(listing: art.Listing, size: str | None) -> list[art.Artifact]:
    arts = listing.artifacts
    if size is None:
        return arts
    want = _wanted_size(size)
    chosen = [a for a in arts if _has_size(a, want)]
    if not chosen:
        sizes = sorted({_size_name(a) for a in arts if a.params_b})
        has = f"it has {', '.join(sizes)}" if sizes else "its size is unknown"
        raise InputError(f"{listing.ref.display} has no {size} size; {has}")
    return chosen


def _size_name(a: art.Artifact) -> str:
    """`8b`, `30b-a3b`, `8x7b`: a tag's parameter size as its name spells it (as --size takes it)."""
    for tag in a.tags[:1]:
        words = tag.lower().split("-")
        for i, word in enumerate(words):
            info = parse_tag(word)
            if info.params_b is not None:  # with the active size right after it, if any
                return "-".join(words[i:i + 2]) if parse_tag("-".join(words[i:i + 2])) \
                    .active_params_b else word
    params, active_b = _nominal(a)
    if params is None:  # no size known (a `latest` without a manifest): the tag itself
        return a.tags[0] if a.tags else a.name.split(":", 1)[-1]
    active = f"-a{active_b:g}b" if active_b else ""
    return f"{params:g}b{active}"


def _comparable(arts: list[art.Artifact]) -> list[art.Artifact]:
    """Base (`text`) models are not what a chat/task user wants: they compete only when nothing
    else is listed."""
    tuned = [a for a in arts if "text" not in a.tag.variant]
    return tuned or arts


def estimate_artifact(a: art.Artifact, req: Request, ctx: int, kv_cache: str | None = None):
    """The release's estimate of one artifact at `ctx` (clamped to the model's own context);
    releases before v0.10 try several parallel sequences and keep the most that fit."""
    assert a.arch is not None
    own = model_ctx(a)
    run_ctx = min(ctx, own) if own else ctx
    bpw = a.model_bytes * 8 / (a.params_b * 1e9) if a.params_b else None
    quant = a.rating(bpw)
    model = estimators.Model(a.arch, a.model_bytes, a.projector_bytes, a.arch_source)
    choices = rel.parallel_choices(req.release.version, a.arch.architecture, req.parallel,
                                   embedding=a.arch.pooling)
    for np_ in choices:
        est = estimators.estimate(model, quant, req.budget, release=req.release, ctx=run_ctx,
                                  parallel=np_, kv_cache=kv_cache or req.kv_cache, env=req.env)
        if est.placement == "gpu":
            break
    return quant, est


def candidates(arts: list[art.Artifact], req: Request, ctx: int,
               kv_cache: str | None = None) -> list[Candidate]:
    out = []
    for a in arts:
        quant, est = estimate_artifact(a, req, ctx, kv_cache)
        out.append(Candidate(a.name, quant, a.params_b, a.active_params_b,
                             a.download_bytes, est, a.aliases, a.native_precision,
                             blocked=a.blocked or quant.unpicked, artifact=a))
    return out


def release_ctx(req: Request, arts: list[art.Artifact]) -> int:
    """The num_ctx the release runs when the user sets none: the model's params layer, else
    OLLAMA_CONTEXT_LENGTH, else the release's default (VRAM tiers from v0.15.5), capped by the
    model's trained context."""
    longest = max((model_ctx(a) or 0 for a in arts if a.arch), default=0) or None
    arch = next((a.arch.architecture for a in arts if a.arch), "")
    params = next((a.num_ctx for a in arts if a.num_ctx), None)
    # Ollama reads it with strconv.ParseUint (envconfig.Uint): ASCII digits only; a value it
    # cannot read, or 0, leaves its default (env_notes says so).
    chosen = params or parse_uint(req.env.get("OLLAMA_CONTEXT_LENGTH", ""), limit=2**32 - 1) or None
    if chosen is None:
        return rel.default_ctx(req.release.version, req.budget.tier_vram_bytes, arch, longest)
    return min(chosen, longest) if longest else chosen


def env_notes(req: Request) -> list[str]:
    """One note per server variable set to something that is no number to its reader; the plan
    uses what that reader does with it. Ollama's envconfig.Uint logs 'invalid environment
    variable, using default' for OLLAMA_CONTEXT_LENGTH; llama-server (v0.30+) parses
    LLAMA_ARG_FIT_TARGET with std::stoull, which takes no '²' either."""
    notes = []
    raw = req.env.get("OLLAMA_CONTEXT_LENGTH", "").strip()
    if raw and parse_uint(raw, limit=2**32 - 1) is None:
        notes.append(f"note: OLLAMA_CONTEXT_LENGTH='{shown(raw)}' is not a number: Ollama ignores it "
                     "and uses its default context; planned that way")
    raw = req.env.get("LLAMA_ARG_FIT_TARGET", "").strip()
    if raw and req.release.version >= rel.LLAMA_SERVER_FROM and \
            estimators.fit_target({"LLAMA_ARG_FIT_TARGET": raw}) is None:
        notes.append(f"note: LLAMA_ARG_FIT_TARGET='{shown(raw)}' is not a number of MiB to "
                     "llama-server; planned with llama-server's default 1024 MiB margin; fix or "
                     "unset it")
    return notes


def task_floor(req: Request) -> tuple[int, bool]:
    """(the least context the task needs, whether a thinking model raised it): data/quants.toml
    [tasks] floor_ctx, and [thinking] for models that reason at length before answering."""
    from ollama_quantpick.capability import family_in

    floor = data()["tasks"][req.task]["floor_ctx"]
    think = data()["thinking"]
    # a Hub repo thinks as the library model its name holds (Qwen3-32B-GGUF as qwen3)
    thinking = any(family_in(r.display.split(":", 1)[0], think["models"]) if r.is_hf
                   else r.model in think["models"] for r in req.refs)
    if thinking and req.task in think["tasks"] and think["floor_ctx"] > floor:
        return think["floor_ctx"], True
    return floor, False


def ctx_ladder(req: Request, default: int, longest: int | None = None) -> list[int]:
    """The context to plan at first — Ollama's, or the task's floor when that is higher — then
    halvings down to the floor, where a better tag might fit (unless --ctx pins it: then that
    context, or the model's own when it is shorter)."""
    if req.ctx is not None:  # Ollama caps num_ctx at the model's context (docs/memory.md)
        return [min(req.ctx, longest) if longest else req.ctx]
    floor, _ = task_floor(req)
    if longest:
        floor = min(floor, longest)
    first = max(default, floor)
    ladder = [first]
    c = first // 2
    while c >= floor:
        ladder.append(c)
        c //= 2
    if first > floor and floor not in ladder:
        ladder.append(floor)
    return ladder


def model_ctx(a: art.Artifact) -> int | None:
    """The model's own (trained) context: the header's, else the page's."""
    return (a.arch.context_length if a.arch else None) or a.context


def ctx_notes(req: Request, arts: list[art.Artifact]) -> list[str]:
    """One note per size whose context is shorter than the --ctx (or config ctx) asked: it is
    planned at its own context, which is what Ollama runs (it caps num_ctx there)."""
    if req.ctx is None:
        return []
    short: dict[str, int] = {}
    for a in arts:
        if (own := model_ctx(a)) and own < req.ctx:
            model, size = a.name.split(":", 1)[0], _size_name(a)
            # a library size is a tag (`phi4:14b`); a Hub repo has no size tags: `repo (32b)`
            hub = model.split("/", 1)[0] in HF_HOSTS
            short.setdefault(f"{model} ({size})" if hub else f"{model}:{size}", own)
    return [f"note: {name} has a {_k(own)} context ({own} tokens): planned at {own}, not the "
            f"{req.ctx} asked, as Ollama runs it (it caps num_ctx at the model's context)"
            for name, own in short.items()]


def _k(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def setting_words(settings: dict[str, str]) -> str:
    """'set OLLAMA_KV_CACHE_TYPE=q8_0 and OLLAMA_CONTEXT_LENGTH=8192 on the Ollama server (num_ctx
    8192 in a Modelfile or request sets the context too)'."""
    pairs = " and ".join(f"{k}={v}" for k, v in settings.items())
    out = f"set {pairs} on the Ollama server"
    if ctx := settings.get("OLLAMA_CONTEXT_LENGTH"):
        out += f" (num_ctx {ctx} in a Modelfile or request sets the context too)"
    if "OLLAMA_FLASH_ATTENTION" in settings:
        out += "; this release quantizes the cache only with flash attention on"
    return out


def kv_settings(req: Request, arch: str) -> dict[str, str] | None:
    """The server settings under which this release runs a q8_0 KV cache for `arch`, or None
    when it cannot (no flash attention for the model)."""
    version = req.release.version
    env = dict(req.env)
    if rel.kv_type(version, arch, "q8_0", rel.flash_attention(version, arch, env), env) == "q8_0":
        return {"OLLAMA_KV_CACHE_TYPE": "q8_0"}
    env["OLLAMA_FLASH_ATTENTION"] = "1"
    if rel.kv_type(version, arch, "q8_0", rel.flash_attention(version, arch, env), env) == "q8_0":
        return {"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "1"}
    return None


def options(req: Request, pool: list[art.Artifact], default: int, ladder: list[int],
            alternatives: bool = True) -> tuple[Option, list[Option]]:
    """The base way to run (ladder[0]: Ollama's context, or the task floor with the setting that
    raises it) and the alternatives worth a setting: a q8_0 KV cache there, then each smaller
    context of the ladder."""
    def ranked(ctx: int, kv: str | None = None) -> list[Candidate]:
        return rank(candidates(pool, req, ctx, kv), req.task, req.prefer, req.min_speed)

    base = Option(ladder[0], req.kv_cache, ranked(ladder[0]))
    if req.ctx is None and ladder[0] > default:
        floor, thinking = task_floor(req)
        why = f"{req.task} with a thinking model" if thinking else req.task
        base.settings = {"OLLAMA_CONTEXT_LENGTH": str(ladder[0])}
        base.hint = (f"Ollama's context here, {default}, is too short for {why} "
                     f"({floor} tokens): {setting_words(base.settings)}")
    alts: list[Option] = []
    if not alternatives:
        return base, alts
    arch = next((a.arch.architecture for a in pool if a.arch), "")
    kv = kv_settings(req, arch) if req.kv_cache == "f16" else None
    if kv is not None:
        settings = {**kv, **base.settings}
        alts.append(Option(ladder[0], "q8_0", ranked(ladder[0], "q8_0"), settings,
                           setting_words(settings)))
    for ctx in ladder[1:]:
        settings = {"OLLAMA_CONTEXT_LENGTH": str(ctx)}
        alts.append(Option(ctx, req.kv_cache, ranked(ctx), settings, setting_words(settings)))
    return base, alts


def _model_key(ref: ModelRef) -> tuple:
    """Which listing a name reads: `qwen3`, `qwen3:8b` and `qwen3:latest` read one (a Hub repo's
    name in any case: the Hub resolves it so)."""
    if ref.is_hf:
        return (ref.host, (ref.namespace or "").lower(), ref.model.lower())
    return (ref.host, ref.namespace, ref.model)


def load_listings(refs: list[ModelRef]) -> list[art.Listing]:
    """Every model's tags page first, then the registry: an unknown model among several is a bad
    request found before any manifest or GGUF header of the others is fetched. One listing per
    model, shared by every name of it (`qwen3 qwen3:8b`): one download is one artifact."""
    from ollama_quantpick import library

    pages: dict[tuple, tuple | None] = {}
    for ref in refs:
        if _model_key(ref) in pages:
            continue
        if ref.is_hf:  # listed from the Hub by art.load
            pages[_model_key(ref)] = None
            continue
        try:
            pages[_model_key(ref)] = library.fetch_tags(ref)
        except UnknownModel as exc:
            if len(refs) == 1:
                raise
            rest = ", ".join(r.display for r in refs if r is not ref)
            raise InputError(f"{exc}; drop it to decide among {rest}") from None
    loaded: dict[tuple, art.Listing] = {}
    for ref in refs:
        if (key := _model_key(ref)) not in loaded:
            loaded[key] = art.load(ref, fetched=pages[key])
    return [loaded[_model_key(ref)] for ref in refs]


def _model_pool(listing: art.Listing, ref: ModelRef, req: Request
                ) -> tuple[list[art.Artifact], art.Artifact | None]:
    """The artifacts of one model that compete (an explicit tag: that one), headers attached."""
    target = None
    if ref.tag:
        target = next((a for a in listing.artifacts if a.matches(ref.tag)), None)
        if target is None:
            known = ", ".join(t for a in listing.artifacts for t in a.tags[:1])
            cloud = [t.tag for t in listing.cloud]
            if ref.tag in cloud:
                raise InputError(f"{ref.display} is a cloud tag: it runs on ollama.com, not "
                                 "on this machine")
            raise InputError(f"{ref.display} is not a tag of {ref.model}; tags include "
                             f"{known}")
    headers = listing.artifacts if target is None else [target]
    if ref.is_hf:  # a Hub repo's size is its header's (one read for the repo): before --size
        listing.warnings += art.attach_arch(ref, headers, exact=target)
    # an explicit tag names its size: a --size that disagrees asks for two things at once
    if target is not None and req.size is not None and _nominal(target)[0] is not None \
            and not _has_size(target, _wanted_size(req.size)):
        flag = req.size_from.removeprefix("the config's ")
        asked = req.size.strip().lower()
        raise InputError(f"{ref.display} is the {_size_name(target)} size, but "
                         f"{req.size_from} asks for {asked}: drop {flag} or name a {asked} tag")
    try:
        arts = _size_filter(listing, req.size) if target is None else [target]
    except InputError:
        if len(req.refs) == 1:
            raise
        return [], None  # several models: --size picks among those that have the size
    params = art.attach_params_later(ref, arts)  # in the same round trip as the headers
    if not ref.is_hf:
        listing.warnings += art.attach_arch(ref, headers, exact=target)
    params()
    return arts, target


def plan(req: Request, *, decide_pick: bool = True) -> Plan:
    """Load each model's artifacts, estimate each on the budget and rank them all together for
    the task: one ranking across models."""
    listings = load_listings(req.refs)
    arts: list[art.Artifact] = []
    pool: list[art.Artifact] = []
    target = None
    defaults = []
    for listing, ref in zip(listings, req.refs):
        mine, tgt = _model_pool(listing, ref, req)
        # two names of one download (`qwen3:8b qwen3:latest`, `qwen3 qwen3:32b`) are one row
        arts += [a for a in mine if not any(a is b for b in arts)]
        pool += [a for a in (_comparable(mine) if tgt is None else mine)
                 if not any(a is b for b in pool)]
        defaults.append(release_ctx(req, mine))
        if len(req.refs) == 1:
            target = tgt  # several models: an explicit tag competes like any other
    if not arts and req.size and len(req.refs) > 1:
        raise InputError(f"none of {req.label} has a {req.size} size")
    # several models: the largest default, each tag capped at its own context by candidates()
    default = max(defaults)
    longest = max((model_ctx(a) or 0 for a in pool if a.arch), default=0) or None
    ladder = ctx_ladder(req, default, longest)
    listings = list({id(lst): lst for lst in listings}.values())  # each model's once
    result = Plan(req, listings[0], ladder[0], default, target=target, listings=listings,
                  notes=ctx_notes(req, arts) + env_notes(req))
    if not pool:
        return result
    if not decide_pick or target is not None:
        base, _ = options(req, pool, default, ladder, alternatives=False)
        result.options = [base]
        result.ranked = base.ranked if pool == arts else \
            rank(candidates(arts, req, ladder[0]), req.task, req.prefer, req.min_speed)
        if decide_pick:  # an explicit MODEL:TAG is checked, not chosen: the answer is it, or none
            result.choice = best_option(base, [], req.task, req.prefer, req.min_speed,
                                        budget_label(req.budget), default)
        return result
    base, alts = options(req, pool, default, ladder)
    result.options = [base, *alts]
    outcome = best_option(base, alts, req.task, req.prefer, req.min_speed, budget_label(req.budget),
                     default)
    if outcome is not None:
        result.choice, result.ctx = outcome, outcome.ctx
        picked = {c.name for c in outcome.ranked}
        kv_used = next(o.kv_cache for o in result.options if o.ranked is outcome.ranked)
        extra = candidates([a for a in arts if a.name not in picked], req, outcome.ctx, kv_used)
        result.ranked = outcome.ranked + rank(extra, req.task, req.prefer, req.min_speed)
        for i, c in enumerate(result.ranked, 1):
            c.rank = i
            c.picked = c is outcome.pick
        return result
    # nothing picked anywhere: show the smallest context tried, where the most fits
    last = next((o for o in reversed(result.options) if o.kv_cache == req.kv_cache), base)
    result.ctx = last.ctx
    result.ranked = rank(candidates(arts, req, last.ctx), req.task, req.prefer, req.min_speed)
    return result


def find_alternatives(req: Request, result: Plan, limit: int = 3) -> tuple[list[Candidate], float]:
    """Up to `limit` tags of OTHER models, from the capability table's families, that score at
    least the asked models' best for the task and run here. Fetched as usual; a family that
    cannot be read is skipped (alternatives are a hint, not the answer)."""
    from dataclasses import replace

    from ollama_quantpick import across
    from ollama_quantpick.errors import QuantpickError
    from ollama_quantpick.tagname import ModelRef

    target = across.target_capability(result.ranked)
    asked = {r.model for r in req.refs if r.namespace is None}
    budget = req.budget.vram_bytes + req.budget.ram_bytes
    picks = []
    for family, rows in across.alternative_sizes(asked, req.task, target, budget).items():
        ref = ModelRef(family)
        try:
            listing = art.load(ref)
        except QuantpickError:
            continue
        arts = _comparable([a for a in listing.artifacts if any(
            (r.params_b, r.active_params_b) == (a.params_b, a.active_params_b)
            and r.applies(a.tag.tag) for r in rows)])
        if not arts:
            continue
        params = art.attach_params_later(ref, arts)
        art.attach_arch(ref, arts)
        params()
        sub = replace(req, ref=ref, others=(), size=None)
        default = release_ctx(sub, arts)
        longest = max((model_ctx(a) or 0 for a in arts if a.arch), default=0) or None
        base, alts = options(sub, arts, default, ctx_ladder(sub, default, longest))
        outcome = best_option(base, alts, req.task, req.prefer, req.min_speed, budget_label(req.budget),
                         default)
        if outcome is not None:
            picks.append(outcome.pick)
    return across.choose_alternatives(picks, limit), target


def choose(req: Request) -> tuple[Plan, Candidate | None, str]:
    """The pick and its one-line reason. An explicit MODEL:TAG is checked, not chosen: it comes
    back as None with the reason when it does not fit or is too slow. NothingFits (exit 3) when
    no tag of the model(s) fits; its message and detail name fitting alternatives of other
    models. With several models the reason says why the others lost, in numbers."""
    from ollama_quantpick import across

    result = plan(req)
    label = budget_label(req.budget)
    if not result.ranked:
        raise NothingFits(f"{req.label} has no tag that runs locally (only cloud tags)",
                          plan=result)
    if result.target is not None:
        c = result.ranked[0]
        if c.blocked:
            raise InputError(f"{c.name} is listed but cannot be pulled: {c.blocked}")
        if result.choice is None:  # it does not fit, or runs below the minimum speed
            return result, None, nothing_fits(result.ranked, label, req.min_speed)
        return result, result.choice.pick, result.choice.reason
    if result.choice is None:
        alts, target = find_alternatives(req, result)
        message = nothing_fits(result.ranked, label, req.min_speed, _kv_rescue(result))
        if alts:
            message += " — instead: " + ", ".join(across.describe(a, target, req.task)
                                                   for a in alts)
        else:
            message += (f" — no other model with at least {req.label}'s {req.task} score "
                        "runs here")
        notes = across.data_notes(result.ranked)
        if notes:
            message += "; " + "; ".join(notes)
        raise NothingFits(message, plan=result, detail={
            "target_capability": round(target, 1),
            "alternatives": [across.to_json(a) for a in alts]})
    pick = result.choice.pick
    reason = result.choice.reason
    if len(req.refs) > 1:
        if others := across.why_not(result.ranked, pick, req.task):
            reason += f"; {others}"
        notes = across.data_notes(list(across.best_per_model(result.ranked).values()))
    else:
        notes = across.data_notes([pick])
    if notes:
        reason += "; " + "; ".join(notes)
    result.choice.reason = reason
    return result, pick, reason


def _kv_rescue(result: Plan) -> str:
    """'; with a q8_0 KV cache X fits (split 58/81): ...' when a q8_0 cache is what is missing.
    Never when the tag it would fit is still too slow: that advice would not change the answer."""
    for opt in result.options:
        if opt.kv_cache == "q8_0" and opt.ranked and opt.ranked[0].estimate.placement != "no" \
                and not opt.ranked[0].too_slow:
            c = opt.ranked[0]
            how = c.estimate.fit_label.replace("gpu", "on the GPU")
            return (f"; with a q8_0 KV cache {c.name} fits ({how}): try --kv-cache q8_0, and "
                    f"{opt.hint}")
    return ""

"""quantpick: which tag of this Ollama model should I pull on this machine, for this job?"""

__version__ = "0.1.0"

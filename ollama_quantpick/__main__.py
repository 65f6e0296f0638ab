from ollama_quantpick.cli import main

main()

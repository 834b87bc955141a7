"""Channel-agnostic conversation logic: one module per conversation; handlers/registry.py maps
commands, buttons and flows to them; handlers/types.py is the contract with the channels."""

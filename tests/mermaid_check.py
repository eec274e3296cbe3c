"""Checks of the Mermaid blocks chartgen writes (filled in below)."""
import re

def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^(`{3,})mermaid\n(.*?)^\1$", markdown, re.S | re.M)

def check_mermaid_blocks(markdown: str) -> None:
    pass

"""The live runtime: the recorder behind `fx record`, the stream session behind `fx stream`, and what
they share (routing, de-duplication, stop signals). No typer or rich here; `tasks` wires it."""

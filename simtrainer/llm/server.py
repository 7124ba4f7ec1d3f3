"""llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`) with simtrainer's CPU guard.

The server builds its `Llama` itself, so it would take llama.cpp's extra buffer types on a CPU that reports AMX
and crash on the first request where the VM does not grant AMX. Run it as `python -m simtrainer.llm.server`
with the server's own arguments: the same guard as the in-process backend applies, nothing else changes.
"""

from __future__ import annotations

import runpy
import sys


def main(argv: list[str]) -> None:
    import llama_cpp.llama_cpp as native

    from simtrainer.llm.cpu import extra_buffers_safe
    from simtrainer.llm.llamacpp import params_with

    native.llama_model_default_params = params_with(extra_buffers_safe(), native.llama_model_default_params)
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])

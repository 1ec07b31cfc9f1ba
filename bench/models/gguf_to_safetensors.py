"""Dequantize a GGUF checkpoint into a float32 safetensors folder that vLLM on CPU can serve.

Run by `bench.models.smollm2` as a script in the vLLM environment's Python (it has torch and
transformers; `gguf` and `accelerate` come from a side folder on PYTHONPATH). It imports nothing
from bench. vLLM 0.32 on CPU cannot load GGUF (its GGUF path needs triton), hence this step.

    python gguf_to_safetensors.py --gguf-dir DIR --gguf-file NAME --out OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf-dir", required=True)
    parser.add_argument("--gguf-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(
        args.gguf_dir, gguf_file=args.gguf_file, dtype=torch.float32
    )
    # save_pretrained refuses a GGUF-quantized model: write the tensors ourselves. A tied
    # lm_head shares storage with the embedding, which safetensors will not save twice.
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})

    config = model.config.to_dict()
    config.pop("quantization_config", None)
    # Without it vLLM may pick an embedding-model class for this config.
    config["architectures"] = ["LlamaForCausalLM"]
    config["torch_dtype"] = "float32"
    config.pop("dtype", None)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    if model.generation_config is not None:
        model.generation_config.save_pretrained(out)

    tokenizer = AutoTokenizer.from_pretrained(args.gguf_dir, gguf_file=args.gguf_file)
    tokenizer.save_pretrained(out)
    print(json.dumps({"out": str(out), "tensors": len(state)}))


if __name__ == "__main__":
    main()

"""Text decoding against Hugging Face transformers, in one process, one thread, greedy:

- arplayground's GPT (the bundled weights) through its compiled decode step and through torch's
  cached step op by op;
- transformers' `generate` (KV cache) on a Llama of the same size with random weights: 6 layers,
  hidden 192, 6 heads, a 65-value vocabulary, context 1024, tied embeddings, rotary positions, and
  an MLP of 512 (SwiGLU's three matrices cost what our GELU MLP's two of 768 cost).

Characters (tokens) per second of decoding alone, starting at contexts 64, 256 and 1000: each
generate() is timed for N + 1 new tokens and for 1, and the difference divided by N, so the
prompt's prefill is not counted; medians over repeats, alternating the three.

transformers is not a dependency of the app. Install it beside the benchmark only, e.g.

    .venv/bin/pip install --target /tmp/hf-site transformers && rm -rf /tmp/hf-site/numpy*
    PYTHONPATH=/tmp/hf-site .venv/bin/python benchmarks/hf_compare.py [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()


def ours(stepper, prefix: list[int], steps: int, compiled: bool) -> float:
    stepper.compiled = compiled
    stepper.reset(prefix)
    start = time.perf_counter()
    for _ in range(steps):
        stepper.push(int(np.argmax(stepper.logits())))
    return steps / (time.perf_counter() - start)


def hf_rate(model, prefix: list[int], steps: int) -> float:
    import torch

    ids = torch.tensor([prefix])
    attention = torch.ones_like(ids)

    def timed(new: int) -> float:
        start = time.perf_counter()
        model.generate(ids, attention_mask=attention, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                       use_cache=True, pad_token_id=0)
        return time.perf_counter() - start

    one = timed(1)
    many = timed(steps + 1)
    return steps / max(many - one, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="characters decoded per measurement (1000 + 21 fits 1024)")
    parser.add_argument("--repeats", type=int, default=5)
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs):
        measure(args)


def measure(args) -> None:
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    from arplayground import catalog

    torch.set_num_threads(1)
    entry = next(e for e in catalog.discover() if e.available and e.name == "shakespeare-char-gpt")
    stepper = catalog.load_stepper(entry)
    stepper.warm_up()
    cfg = stepper.model.cfg
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.n_embd, intermediate_size=512, num_hidden_layers=cfg.n_layer,
        num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_head, max_position_embeddings=cfg.block_size,
        tie_word_embeddings=True, rope_theta=cfg.rope_base)).eval()
    ours_params = sum(p.numel() for p in stepper.model.parameters())
    hf_params = sum(p.numel() for p in llama.parameters())
    print(f"arplayground {entry.name}: {ours_params:,} parameters; transformers {transformers.__version__} Llama: "
          f"{hf_params:,} parameters, random weights; torch {torch.__version__}, 1 thread; greedy, {args.steps} "
          f"characters decoded per measurement, medians of {args.repeats}")
    print()
    print("| context | compiled decode step (chars/s) | torch cached step (chars/s) | transformers generate (tokens/s) "
          "| compiled / transformers | torch step / transformers |")
    print("|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        for context in (64, 256, 1000):
            prefix = [int(v) for v in rng.integers(0, cfg.vocab_size, context)]
            compiled, op_by_op, hf = [], [], []
            for _ in range(args.repeats):  # alternating, so a noisy neighbour hits all three alike
                compiled.append(ours(stepper, prefix, args.steps, True))
                op_by_op.append(ours(stepper, prefix, args.steps, False))
                hf.append(hf_rate(llama, prefix, args.steps))
            c, t, h = statistics.median(compiled), statistics.median(op_by_op), statistics.median(hf)
            print(f"| {context} | {c:,.0f} | {t:,.0f} | {h:,.0f} | {c / h:.2f}x | {t / h:.2f}x |", flush=True)
    stepper.compiled = True


if __name__ == "__main__":
    main()

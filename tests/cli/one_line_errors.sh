#!/usr/bin/env bash
# Every `sageval` error is one line on standard error, exit code 2, never a libtorch stack trace.
# Usage: one_line_errors.sh SAGEVAL_BINARY MODEL_DIR
set -uo pipefail
bin=$1 model=$2 tmp=$(mktemp -d) failures=0
trap 'rm -rf "$tmp"' EXIT
expect_one_line() {  # expect_one_line "what the line must contain" sageval-arguments...
  local want=$1; shift
  "$bin" "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$? lines
  lines=$(wc -l < "$tmp/err")
  if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
    echo "FAILED: sageval $* -> exit $rc, $lines line(s) on stderr, expected 2 and one line containing '$want':"
    cat "$tmp/err"
    failures=$((failures + 1))
  else
    echo "ok: sageval $* -> $(cat "$tmp/err")"
  fi
}
expect_one_line "not in {" check --attention-backend nope
expect_one_line "Directory does not exist: /nonexistent" logits --model /nonexistent --prompt x --out "$tmp/l"
expect_one_line "--tokens-file or --prompt" logits --model "$model" --out "$tmp/l"
expect_one_line "no data folder" validate --data /nonexistent
echo '{"candidate": "sage_int8", "baseline": "fp16", "baseline_layers": [0, 0]}' > "$tmp/plan.json"
expect_one_line "layer 0 is listed twice" validate --data "$tmp" --model "$model" --precision-plan "$tmp/plan.json"
expect_one_line "--out is required" plan --model "$model"
# No GPU visible (an empty CUDA_VISIBLE_DEVICES hides any): no spec to offer ctest. --gpus N writes one anyway.
CUDA_VISIBLE_DEVICES= expect_one_line "no GPU visible to CUDA here" resource-spec
if "$bin" resource-spec --gpus 2 --out "$tmp/spec.json" 2> /dev/null && grep -q '"id": "1"' "$tmp/spec.json"; then
  echo "ok: sageval resource-spec --gpus 2 -> $(tr -d ' \n' < "$tmp/spec.json")"
else
  echo "FAILED: sageval resource-spec --gpus 2 did not write a spec of two GPUs"; failures=$((failures + 1))
fi
cp -r "$model" "$tmp/model" && sed -i 's/"hidden_act": "silu"/"hidden_act": "gelu_fast"/' "$tmp/model/config.json"
expect_one_line "field 'hidden_act' = \"gelu_fast\" is not supported" logits --model "$tmp/model" --prompt x --out "$tmp/l"
# float16 weights on the CPU: runs where this libtorch has a float16 CPU matmul, else one line saying so.
if ! "$bin" logits --model "$model" --prompt "x" --out "$tmp/l" --dtype fp16 > /dev/null 2> "$tmp/err"; then
  if [ "$(wc -l < "$tmp/err")" -ne 1 ] || ! grep -q "dtype Half on cpu is not supported by this libtorch" "$tmp/err"; then
    echo "FAILED: fp16 on the CPU failed without the one-line reason:"; cat "$tmp/err"; failures=$((failures + 1))
  else
    echo "ok: fp16 on the CPU -> $(cat "$tmp/err")"
  fi
else
  echo "ok: fp16 on the CPU runs with this libtorch"
fi
echo "$failures failure(s)"
[ $failures -eq 0 ]

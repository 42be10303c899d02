#!/usr/bin/env bash
# The GPU checks in one go (what BENCHMARKS.md's GPU rows come from): the CUDA tests, W3 on the
# GPU beside the peers that are installed, and W1 batched (GPU vs the compiled CPU loop).
# Usage: bash benchmarks/gpu_check.sh [OUT_DIR]   (logs and JSON lines land in OUT_DIR)
set -u
out=${1:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
nvidia-smi -L 2>&1 | tee "$out/env.log"
$py -c "import torch, triton, numpy, numba; print('torch', torch.__version__, 'triton',
triton.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__,
torch.cuda.get_device_name())" 2>&1 | tee -a "$out/env.log"
timeout 220 $py -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py \
  tests/test_encoding.py -k "cuda" 2>&1 | tee "$out/pytest.log"
timeout 160 $py benchmarks/w3_bptt.py --device cuda --reps 3 \
  --libs neuroplastic,torch-loop,spikingjelly,snntorch,norse 2>&1 | tee "$out/w3_b64.log"
timeout 100 $py benchmarks/w3_bptt.py --device cuda --reps 1 --batch 512 \
  --libs neuroplastic,torch-loop,spikingjelly 2>&1 | tee "$out/w3_b512.log"
timeout 150 $py benchmarks/w1_batched_gpu.py --batch 1,64,512,2048 --ms 200 --eager-too 2>&1 \
  | tee "$out/w1_batched.log"

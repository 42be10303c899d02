#!/usr/bin/env bash
# Installs the peer libraries of the side-by-side benchmarks into a virtual environment while
# keeping the offline CPU build of torch (a plain `pip install bindsnet snntorch ...` replaces
# it with a multi-GB CUDA build). Usage: benchmarks/install-peers.sh VENV_DIR
# BindsNET imports torchvision, which does not import beside this torch: the benchmarks put the
# stand-in package benchmarks/peer_stubs/ first on sys.path.
set -eu
venv=${1:?usage: benchmarks/install-peers.sh VENV_DIR}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install -q torch==2.13.0
"$pip" install -q brian2 numba scikit-learn snntorch
"$pip" install -q "numpy==2.3.5"            # brian2 2.9.0 fails to import on numpy 2.4
"$pip" install -q --no-deps norse nirtorch nir spikingjelly bindsnet
"$pip" install -q h5py matplotlib scipy tqdm packaging psutil pandas tensorboardX scikit-image \
  gymnasium opencv-python-headless ale-py loguru
"$pip" install -q --no-deps -e "$(dirname "$0")/.."
"$venv/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__; print('peers installed beside torch', torch.__version__)"

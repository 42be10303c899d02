#!/usr/bin/env bash
# Builds NEST 3.10 with MPI (Open MPI from Debian) into PREFIX, for the MPI test of the NEST
# backend (tests/test_nest_mpi.py) and `mpirun -np N` runs. The `nest-simulator` wheel on PyPI
# is built without MPI; this compiles the same release from its source distribution (~10 min on
# 2 cores). Usage: benchmarks/install-nest-mpi.sh PREFIX [PYTHON]
#   PYTHON: the interpreter that will import it (default: python3; use the project's venv).
# Afterwards:  export NEUROPLASTIC_NEST_MPI=PREFIX   (tests/test_nest_mpi.py reads it)
#              PYTHONPATH=$(cat PREFIX/pythonpath) mpirun -np 2 PYTHON script.py
set -eu
prefix=$(realpath -m "${1:?usage: benchmarks/install-nest-mpi.sh PREFIX [PYTHON]}")
python=${2:-python3}
version=3.10.0
mkdir -p "$prefix/src"
if command -v apt-get >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq libopenmpi-dev openmpi-bin libgsl-dev libltdl-dev cmake g++ >/dev/null
fi
# build-time Python: Cython and numpy beside the target interpreter's version, kept apart
"$python" -m venv "$prefix/build-venv"
"$prefix/build-venv/bin/pip" install -q "cython>=3" numpy scikit-build-core setuptools wheel
pylib="$prefix/pylib"                                  # mpi4py for gathering results across ranks
"$prefix/build-venv/bin/pip" install -q --target "$pylib" mpi4py
cd "$prefix/src"
if [ ! -d "nest_simulator-$version" ]; then
  "$prefix/build-venv/bin/pip" download -q --no-deps --no-binary :all: --no-build-isolation \
    "nest-simulator==$version" -d . >download.log 2>&1 || true
  [ -f "nest_simulator-$version.tar.gz" ] || { echo "could not fetch the NEST $version sdist" >&2; exit 1; }
  tar xzf "nest_simulator-$version.tar.gz"
fi
mkdir -p build && cd build
cmake "../nest_simulator-$version" -DCMAKE_INSTALL_PREFIX="$prefix" -Dwith-mpi=ON \
  -Dwith-openmp=ON -Dwith-gsl=ON -Dwith-boost=OFF -Dwith-readline=OFF \
  -DPython_EXECUTABLE="$prefix/build-venv/bin/python" >cmake.log
make -j"$(nproc)" >make.log 2>&1
make install >install.log 2>&1
site=$(ls -d "$prefix"/lib*/python3*/site-packages | head -1)
echo "$site:$pylib" >"$prefix/pythonpath"
PYTHONPATH="$site:$pylib" "$python" -c "
import nest
assert nest.GetKernelStatus('build_info')['have_mpi'], 'NEST was built without MPI'
print('NEST', nest.__version__, 'with MPI at', nest.__path__[0])"

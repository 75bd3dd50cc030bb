# Sourced by the tools/gpu-*.sh scripts on an NVIDIA GPU machine (from the repository root): the
# libraries tools/gpu-prepare.sh gathered into .dev/lib, a program cache in /tmp, no system tuning
# database (runs measure what they tune), and NVIDIA's OpenCL ICD registered.
export LD_LIBRARY_PATH="$PWD/.dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LK_CACHE_DIR="${LK_CACHE_DIR:-/tmp/longkern-cache}" LK_SYSTEM_DB=""
if [ -w /etc ] && [ ! -f /etc/OpenCL/vendors/nvidia.icd ]; then
  mkdir -p /etc/OpenCL/vendors && echo libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
fi

# Source this on a lent NVIDIA machine (the `device` tool) in a checkout carried with .devpack and dist:
#   . scripts/gpu-env.sh && node bin/das.js doctor
# Unpacks Node and node_modules from .devpack (scripts/devpack.sh) and points Dawn at NVIDIA's Vulkan driver.
mkdir -p /tmp/dp && { [ -x /tmp/dp/node ] || tar xJf .devpack/pack.tar.xz -C /tmp/dp; }
ln -sfn /tmp/dp/node_modules node_modules
export PATH=/tmp/dp:$PATH LD_LIBRARY_PATH=$PWD/.devpack/lib XDG_RUNTIME_DIR=/tmp
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json

# shellcheck shell=bash
# Shared by scripts/setup, scripts/in-env, scripts/test, scripts/demo and scripts/bench:
# where the development environment lives and how to enter it. Source it; do not run it.

IOE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IOE_MIN_PYTHON=3.14.2
IOE_VENV_IN_ROOT=/opt/ioe-venv
# Node-RED and its Home Assistant palette (scripts/env/node-red/); the tests and the demo find
# them through IOE_NODE_RED.
IOE_NODE_RED_IN_ROOT=/opt/ioe-node-red
IOE_DEVENV=${IOE_DEVENV:-/var/cache/ioe-community}

# Files whose content decides what the environment holds: any change builds a new one.
ioe_env_inputs() {
    printf '%s\n' \
        "$IOE_ROOT/scripts/env/debian-packages.txt" \
        "$IOE_ROOT/requirements_test.txt" \
        "$IOE_ROOT/addons/ioe-aggregator/requirements.txt" \
        "$IOE_ROOT/addons/ioe-aggregator/requirements.lock" \
        "$IOE_ROOT/scripts/env/install-python-packages.sh" \
        "$IOE_ROOT/scripts/env/ha_requirements.py" \
        "$IOE_ROOT/scripts/env/node-red/package.json" \
        "$IOE_ROOT/scripts/env/node-red/package-lock.json" \
        "$IOE_ROOT/scripts/env/install-node-red.sh" \
        "$IOE_ROOT/scripts/lib/ioe_dev/demo/configuration.yaml"
}

ioe_env_fingerprint() {
    local file
    ioe_env_inputs | while read -r file; do
        printf '%s\n' "${file#"$IOE_ROOT"/}"
        cat "$file"
    done
    # Of the manifest, only what decides the installed packages (not its version, say).
    tr -d ' \n' <"$IOE_ROOT/custom_components/ioe_community/manifest.json" |
        grep -oE '"(dependencies|requirements)":\[[^]]*\]'
}

ioe_env_hash() {
    ioe_env_fingerprint | sha256sum | cut -c1-16
}

# The packages debootstrap installs (one name on the line)...
ioe_debian_packages() {
    awk '!/^#/ && NF == 1 {print $1}' "$IOE_ROOT/scripts/env/debian-packages.txt"
}

# ...and those apt-get installs in the new root afterwards (the name, then "after-debootstrap").
ioe_debian_packages_after_debootstrap() {
    awk '!/^#/ && $2 == "after-debootstrap" {print $1}' "$IOE_ROOT/scripts/env/debian-packages.txt"
}

# Prints the path of a Python >= IOE_MIN_PYTHON found on PATH, or nothing.
ioe_host_python() {
    local candidate
    for candidate in python3.16 python3.15 python3.14 python3; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c "import sys; sys.exit(sys.version_info < tuple(int(p) for p in '$IOE_MIN_PYTHON'.split('.')))" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 0
}

# How this machine gets the environment: inside | venv | chroot | none.
ioe_env_kind() {
    if [ -n "${IOE_IN_ENV:-}" ]; then
        echo inside
    elif [ -n "$(ioe_host_python)" ]; then
        echo venv
    elif [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
        echo chroot
    else
        echo none
    fi
}

ioe_rootfs() {
    echo "$IOE_DEVENV/forky-$(ioe_env_hash)"
}

ioe_env_ready() {
    case "$(ioe_env_kind)" in
        inside) return 0 ;;
        venv) [ "$(cat "$IOE_ROOT/.venv/.ioe-env-hash" 2>/dev/null)" = "$(ioe_env_hash)" ] ;;
        chroot) [ -e "$(ioe_rootfs)/.ioe-env-ready" ] ;;
        *) return 1 ;;
    esac
}

ioe_ensure_env() {
    ioe_env_ready || "$IOE_ROOT/scripts/setup"
}

# Runs CMD inside the root ROOTFS: a private mount namespace with /proc, /dev, /sys and the
# repository at the same path, the same working directory, and CMD's exit code. The mounts
# belong to the namespace, so they vanish when CMD exits, however it exits.
ioe_chroot_run() {
    local rootfs=$1
    shift
    # Host pip settings name host paths (wheel folders, constraint files) the root does not have.
    unshare --mount --propagation private --fork -- env \
        -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_EXTRA_INDEX_URL -u PYTHONPATH -u VIRTUAL_ENV \
        IOE_ROOTFS="$rootfs" IOE_REPO="$IOE_ROOT" IOE_CWD="$PWD" IOE_VENV="$IOE_VENV_IN_ROOT" \
        IOE_NODE_RED="$IOE_NODE_RED_IN_ROOT" /bin/bash -c '
            set -e
            mount -t proc proc "$IOE_ROOTFS/proc"
            mount --rbind /dev "$IOE_ROOTFS/dev"
            mount --rbind /sys "$IOE_ROOTFS/sys"
            mkdir -p "$IOE_ROOTFS$IOE_REPO"
            mount --bind "$IOE_REPO" "$IOE_ROOTFS$IOE_REPO"
            export IOE_IN_ENV=1 HOME=/root LANG=C.UTF-8 PYTHONPATH="$IOE_REPO/addons/ioe-aggregator:$IOE_REPO/scripts/lib" \
                PATH="$IOE_VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            exec chroot "$IOE_ROOTFS" /bin/sh -c "cd \"\$IOE_CWD\" && exec \"\$@\"" ioe-env "$@"
        ' ioe-env "$@"
}

# Runs CMD in the development environment, whichever kind this machine has. The aggregator
# package and the development helpers (scripts/lib/ioe_dev) run from the working tree
# (PYTHONPATH), never from a copy installed in the cache.
ioe_run() {
    case "$(ioe_env_kind)" in
        inside) "$@" ;;
        venv)
            PATH="$IOE_ROOT/.venv/bin:$PATH" VIRTUAL_ENV="$IOE_ROOT/.venv" IOE_IN_ENV=1 \
                IOE_NODE_RED="$IOE_ROOT/.venv/node-red" \
                PYTHONPATH="$IOE_ROOT/addons/ioe-aggregator:$IOE_ROOT/scripts/lib" "$@"
            ;;
        chroot)
            # Marks the root as in use, so that a build for another checkout keeps it.
            touch "$(ioe_rootfs)/.ioe-env-used"
            ioe_chroot_run "$(ioe_rootfs)" "$@"
            ;;
        *) "$IOE_ROOT/scripts/setup" ;;
    esac
}

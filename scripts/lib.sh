# Shared helpers for the scripts: install missing Debian packages quietly.
# Usage: source scripts/lib.sh; need_packages pkg...

need_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

BUILD_PACKAGES=(pkg-config libssl-dev libpcre2-dev zlib1g-dev libbrotli-dev libzstd-dev libcrypt-dev libc-ares-dev libnghttp2-dev)

#!/usr/bin/env bash
# Set up Bach2.0 in ./.venv: a virtual environment with the package, its command
# `bach2` and the test tools. Stages 0–4 need no Debian packages; listening
# (`bach2 listen`, `generate --wav`) needs FluidSynth and a General MIDI soundfont,
# the gallery's browser test Chromium, and PyTensor's C backend (`--backend c`) a BLAS
# (OpenBLAS): installed here when run as root.
set -euo pipefail
cd "$(dirname "$0")"

install_debian_packages() {
    local missing=()
    command -v fluidsynth >/dev/null || missing+=(fluidsynth)
    [ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ] || [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] \
        || missing+=(timgm6mb-soundfont)
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
    command -v musescore3 >/dev/null || missing+=(musescore3)
    compgen -G '/usr/lib/*/libopenblas.so' >/dev/null || missing+=(libopenblas-dev)   # a BLAS for PyTensor's C backend
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "optional, for listening, the gallery and score tests and the C backend's BLAS: apt-get install ${missing[*]}"
        return 0
    fi
    echo "installing ${missing[*]} (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null; } || echo "warning: apt-get could not install ${missing[*]}; what needs them is off"
}

install_debian_packages
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
echo "Bach2.0 is set up: .venv/bin/bach2 --help"

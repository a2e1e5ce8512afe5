#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing Lotse need (only the missing ones).
# Sourced by scripts/test and scripts/demo; safe to run again.
set -euo pipefail

LOTSE_PACKAGES=(
  # build: C/C++ for openh264 and SQLite, nasm for openh264's assembly, GTK/xcb for the window
  build-essential pkg-config nasm libgtk-3-dev libxcb1-dev libxcb-shm0-dev libxcb-randr0-dev
  libxcb-xfixes0-dev libxkbcommon-dev libegl1 libgl1-mesa-dri libegl-mesa0
  # the Wayland portal's D-Bus calls (libdbus, which GTK's accessibility bridge loads anyway)
  libdbus-1-dev
  # tests: a real X server, a window manager, real clicks, screenshots, an independent decoder
  xvfb openbox xdotool x11-utils x11-xserver-utils xterm imagemagick ffmpeg jq chromium chromium-driver openssl binutils
  # the system report is checked against what the system tools say (ip); the TCP fallback is
  # tested in a network namespace whose UDP nftables drops
  iproute2 nftables
  # several relays share a PostgreSQL database: the tests run a private cluster (initdb, pg_ctl,
  # a Unix socket in a temporary directory; no system service is used)
  postgresql
  # invitation mails are tested against a real SMTP server on the loopback
  python3-aiosmtpd
  # the supporters' second factor: the test's phone reads the QR code with zbarimg and makes
  # the codes with oathtool (an independent TOTP implementation)
  oathtool zbar-tools
  # the relay's Debian package: built with dpkg-dev, checked with lintian and systemd-analyze
  dpkg-dev lintian systemd
  # the clipboard tests copy and read on the customer's display like a program there would
  # (xclip on X11, wl-clipboard for Wayland programs on GNOME)
  xclip wl-clipboard
  # Wayland: build against libpipewire (bindgen needs clang); test on a private headless GNOME
  # (mutter, PipeWire, WirePlumber, the GNOME portal), a Wayland client (foot), screenshots
  # through GStreamer's PipeWire source, and the Python D-Bus test driver. Xwayland: the customer
  # window runs through it on GNOME (mutter only recommends it, and recommends are not installed)
  libpipewire-0.3-dev clang libclang-dev
  mutter gnome-shell xwayland pipewire pipewire-bin wireplumber xdg-desktop-portal xdg-desktop-portal-gnome
  dbus dbus-user-session gsettings-desktop-schemas foot gstreamer1.0-tools gstreamer1.0-pipewire
  gstreamer1.0-plugins-base python3-gi python3-dbus
  # Windows: the customer client cross-built with Debian's Rust and the standard library's source
  # (scripts/build-windows), linked by mingw-w64, run and tested under Wine, Authenticode-signed
  # with a test certificate to check that the personalised download keeps the signature valid
  rustc-web cargo-web rust-web-src mingw-w64 wine wine64 osslsigncode
)

missing=()
for p in "${LOTSE_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust 1.95 or newer (https://rustup.rs), then run this again." >&2
  exit 1
fi
# axe-core for the portal's accessibility tests, pinned with its integrity hash in
# scripts/axe/package-lock.json (npm from the machine, else Debian's).
if [ ! -f scripts/axe/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  npm ci --prefix scripts/axe --no-audit --no-fund --loglevel=error
fi

#!/bin/sh
# mmdebstrap --setup-hook: runs before any package is installed. $1 = rootfs
set -e
R="$1"; HERE="$(dirname "$0")/.."
mkdir -p "$R/boot/firmware" "$R/etc/default" "$R/etc/initramfs-tools/conf.d"
# raspi-firmware writes cmdline.txt from this (LABEL= works for SD and USB boot)
printf 'ROOTPART=LABEL=RASPIROOT\nCONSOLES="ttyS1,115200 tty0"\n' > "$R/etc/default/raspi-firmware"
# An explicit initramfs module list: about a minute under qemu-user instead of twenty.
cp "$HERE/overlay/etc/initramfs-tools/conf.d/shoebox.conf" "$R/etc/initramfs-tools/conf.d/"
cp "$HERE/overlay/etc/initramfs-tools/modules" "$R/etc/initramfs-tools/modules"

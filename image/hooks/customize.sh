#!/bin/sh
# mmdebstrap --customize-hook: runs after all packages are installed. $1 = rootfs
set -e
R="$1"; HERE="$(dirname "$0")/.."; TOP="$HERE/.."
echo shoebox > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tshoebox\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
printf 'LABEL=RASPIROOT  /              ext4  rw,noatime,errors=remount-ro  0 1\nLABEL=RASPIFIRM  /boot/firmware vfat  rw,noatime,umask=0022         0 2\n' > "$R/etc/fstab"
cp -a "$HERE/overlay/." "$R/"
# The arm64 .deb (image/build made it with packaging/build-debs): binary, unit, user, settings.
DEB=$(ls -t "$TOP"/target/debian/shoebox_*_arm64.deb | head -n 1)
cp "$DEB" "$R/tmp/shoebox.deb"
chroot "$R" dpkg -i /tmp/shoebox.deb
rm -f "$R/tmp/shoebox.deb"
mkdir -p "$R/srv/photos"
# The owner's settings file on the FAT partition, with every option commented out.
printf '# shoebox settings, read at first boot (remove the # to use a line)\n#hostname=nas-a\n# the code you will type in the browser to claim the box (at least 8 characters):\n#setup_code=\n# your SSH public key, to log in as root over SSH (there is no password login):\n#ssh_authorized_key=\n#ssh=yes\n' > "$R/boot/firmware/shoebox.txt"
systemctl --root="$R" enable systemd-networkd.service shoebox.service shoebox-firstboot.service serial-getty@ttyAMA0.service
# SSH stays off unless the owner asks for it (shoebox.txt: ssh=yes).
systemctl --root="$R" disable ssh.service 2>/dev/null || true
rm -f "$R"/etc/ssh/ssh_host_* "$R/var/lib/dbus/machine-id" "$R/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
: > "$R/etc/machine-id"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*

#!/bin/sh
# Assembles an MBR SD-card image (FAT32 boot + ext4 root) without loop devices or mounts.
# Inputs in the work dir $1: rootfs/ (root tree, /boot/firmware empty) and bootfs/.
set -eu
cd "$1"
IMG=${IMG:-shoebox-rpi-arm64.img}
BOOT_MB=${BOOT_MB:-256}
ROOT_MB=${ROOT_MB:-1024}
SECT=$((1024*1024/512))           # sectors per MiB
BOOT_START=$((4*SECT))            # 4 MiB alignment, as Raspberry Pi images do
ROOT_START=$((BOOT_START + BOOT_MB*SECT))
rm -f "$IMG" boot.vfat root.ext4
mkfs.vfat -F 32 -n RASPIFIRM -S 512 -s 4 -C boot.vfat $((BOOT_MB*1024)) >/dev/null
mcopy -i boot.vfat -s -p -m bootfs/* ::
mkfs.ext4 -q -F -L RASPIROOT -d rootfs -E root_owner=0:0 -O ^metadata_csum_seed root.ext4 "${ROOT_MB}M"
e2fsck -fn root.ext4 >/dev/null
truncate -s $(( ROOT_START/SECT + ROOT_MB ))M "$IMG"
sfdisk --quiet "$IMG" <<EOT
label: dos
unit: sectors
${BOOT_START},$((BOOT_MB*SECT)),c,*
${ROOT_START},$((ROOT_MB*SECT)),83
EOT
dd if=boot.vfat of="$IMG" bs=1M seek=$((BOOT_START/SECT)) conv=notrunc,sparse status=none
dd if=root.ext4 of="$IMG" bs=1M seek=$((ROOT_START/SECT)) conv=notrunc,sparse status=none
rm -f boot.vfat root.ext4

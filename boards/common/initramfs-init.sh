#!/bin/busybox sh
# shellcheck shell=dash disable=SC2013
# /init of the QEMU board initramfs (boards/common/make-initramfs.sh).
#
# Mounts the kernel file systems, loads the virtio and ext4 modules listed in
# /etc/modules.load, brings up eth0 for QEMU user networking, mounts the
# virtio disk as the agent's state_dir, then runs the payload
# /etc/edgeflip/start (or a shell). When the payload returns, the disk is
# synced and unmounted and the board powers off.
#
# Kernel command line parameters (all optional):
#   ef.ip=10.0.2.15/24  ef.gw=10.0.2.2   eth0's address and default route
#   ef.disk=/dev/vda                      the state disk (ext4)
#   ef.mnt=/var/lib/edgeflip              where it is mounted
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run
exec </dev/console >/dev/console 2>&1
stty -echo 2>/dev/null

ip=10.0.2.15/24
gw=10.0.2.2
disk=/dev/vda
mnt=/var/lib/edgeflip
for w in $(cat /proc/cmdline); do
	case $w in
	ef.ip=*) ip=${w#ef.ip=} ;;
	ef.gw=*) gw=${w#ef.gw=} ;;
	ef.disk=*) disk=${w#ef.disk=} ;;
	ef.mnt=*) mnt=${w#ef.mnt=} ;;
	esac
done
echo "ef-init: kernel $(uname -r) $(uname -m), $(cut -d' ' -f1 /proc/uptime) s since boot"

for m in $(cat /etc/modules.load); do
	insmod "/lib/modules/$m.ko" || echo "ef-init: insmod $m failed"
done

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
ip addr add "$ip" dev eth0 && ip link set eth0 up && ip route add default via "$gw" ||
	echo "ef-init: eth0 is not up"

i=0
while [ ! -b "$disk" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
mkdir -p "$mnt"
if mount -t ext4 "$disk" "$mnt"; then
	echo "ef-init: $disk on $mnt"
else
	echo "ef-init: cannot mount $disk on $mnt"
fi
echo "ef-init: ready, $(cut -d' ' -f1 /proc/uptime) s since boot, $(date -u +%Y-%m-%dT%H:%M:%SZ)"

if [ -x /etc/edgeflip/start ]; then
	/etc/edgeflip/start
	echo "ef-init: payload exited ($?)"
else
	setsid sh -c 'exec sh </dev/console >/dev/console 2>&1'
fi
sync
umount "$mnt" 2>/dev/null && echo "ef-init: $mnt unmounted"
echo "ef-init: power off"
poweroff -f

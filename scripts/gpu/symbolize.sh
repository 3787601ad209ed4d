#!/usr/bin/env bash
# Reads a crash report (shared/util/crash_handler.cpp: "pc|ret? 0xADDR module+0xOFFSET ...")
# on stdin and prints each code address as function and file:line (addr2line), skipping the
# system libraries' frames.
#   some_binary 2> err.txt; bash scripts/gpu/symbolize.sh < err.txt
grep -E "^  (pc|ret\?) 0x" | while read -r tag addr where sym; do
  mod=${where%+0x*}; off=0x${where##*+0x}
  case "$mod" in /lib/*|/usr/lib/*|linux-vdso*) echo "$tag $where $sym"; continue ;; esac
  [ -f "$mod" ] || { echo "$tag $where $sym"; continue; }
  echo "$tag $where: $(addr2line -f -C -i -p -e "$mod" "$off" 2>/dev/null | head -3 | tr '\n' ' ')"
done

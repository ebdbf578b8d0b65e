#!/bin/sh
# Remakes the age fixtures with Debian's age (an implementation independent of
# edgeflip's): a fresh identity; plaintexts of N bytes whose byte i is
# (i * 31 + 7) % 251 (test_secrets.c computes the same), encrypted as a
# 3-chunk file (150000 bytes), an armored file of exactly one 64 KiB chunk, an
# empty file, and a file for two recipients (the sops-age test key first, so
# the second stanza is the one that opens).
set -eu
cd "$(dirname "$0")"
pattern() { python3 -c "import sys; sys.stdout.buffer.write(bytes((i * 31 + 7) % 251 for i in range($1)))"; }
rm -f test-identity.txt
age-keygen -o test-identity.txt
R=$(grep -o 'age1[0-9a-z]*' test-identity.txt)
pattern 150000 | age -r "$R" -o three-chunks.age
pattern 65536 | age -r "$R" -a -o exact-chunk.age.asc
pattern 0 | age -r "$R" -o empty.age
pattern 1000 | age -r age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr -r "$R" \
	-o two-recipients.age

#!/usr/bin/env bash
# Plays a short story through `cuesource run`: each command is decided on the
# instance's events so far (--given, extended by --record), and its events and
# state are printed.
set -uo pipefail
cs=$1 ctx=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=0

step() { # aggregate id command payload
	n=$((n + 1))
	printf '\n== %s %s: %s %s\n' "$1" "$2" "$3" "$4"
	"$cs" run "$ctx" --aggregate "$1" --id "$2" --command "$3" --payload "$4" \
		--given "$work/$1-$2.json" --record --time 2026-01-01T12:00:00Z --command-id "cmd-$n" || true
}

"$cs" vet "$ctx" && echo "vet: $ctx is valid" || exit 1
"$cs" test "$ctx" || exit 1
step cart c1 Open '{"customer":"ada"}'
step cart c1 AddItem '{"sku":"TEA-01","qty":2,"price":4.5}'
step cart c1 AddItem '{"sku":"CHAIR-9","qty":2,"price":300}'
step cart c1 ApplyCoupon '{"code":"WELCOME10"}'
step cart c1 CheckOut '{}'
step cart c1 AddItem '{"sku":"TEA-01","qty":1,"price":4.5}'   # rejected: the cart is checked out
step order o1 Place '{"cart":"c1","total":548.1}'
step order o1 Pay '{"amount":600}'                              # rejected: more than is due
step order o1 Pay '{"amount":548.1}'

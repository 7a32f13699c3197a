// Package egress decides which addresses a webhook may call: the policy
// against server-side request forgery, written once and used by every
// runtime and by vet.
//
// # What it owns
//
//   - The scheme rule: a webhook URL is http or https, with a host.
//   - The address rule ([Reason]): only public unicast addresses. It
//     refuses loopback, private (RFC 1918, fc00::/7), link-local (and
//     so cloud metadata such as 169.254.169.254 and fd00:ec2::254),
//     unspecified (0.0.0.0, ::), multicast, CGNAT (100.64.0.0/10,
//     where 100.100.100.200 is a metadata address), reserved and
//     benchmarking ranges, and IPv4 addresses hidden in IPv6 ones
//     (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
//   - The operator's exceptions ([Parse]): a list of CIDRs, addresses and
//     host names that are allowed anyway, or "*" for every address.
//   - How the host of a URL is read: as a WHATWG URL parser (the
//     Workers' fetch) reads it, so "http://2130706433/", "127.1" and
//     "0x7f.0.0.1" are the loopback address they are to fetch.
//
// # How the runtimes use it
//
// Natively, [Policy.CheckURL] refuses literal addresses before the call
// and the dialer checks every address it connects to with
// [Policy.CheckAddr], after DNS resolution, so neither a name that
// resolves to a private address nor DNS rebinding gets around it. A
// Worker cannot resolve names: [Policy.CheckName] judges them by their
// spelling (localhost, *.internal, names without a dot, ...) before the
// shell's fetch.
//
// # What it never does
//
// I/O: it resolves no name and dials nothing. It imports no net or
// net/http, so it builds for GOOS=js GOARCH=wasm.
package egress

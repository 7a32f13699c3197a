package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Var is the Worker var (and `cuesource serve`'s environment default of
// --webhook-allow) holding an operator's exceptions, in [Parse]'s form.
const Var = "CUESOURCE_WEBHOOK_ALLOW"

// ErrRefused is what every refusal of the policy matches (errors.Is).
var ErrRefused = errors.New("refused by the webhook address policy")

// Refusal is a URL or an address the policy refuses; it matches
// [ErrRefused].
type Refusal struct {
	msg     string
	allowed bool // an operator's exception could allow it
}

func (r *Refusal) Error() string {
	if r.allowed {
		return r.msg + ": " + hint
	}
	return r.msg
}

func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// Reason is what was refused and why, without how to allow it.
func (r *Refusal) Reason() string { return r.msg }

// Allowable reports whether an operator's exception could allow it (an
// address or a name, not a scheme).
func (r *Refusal) Allowable() bool { return r.allowed }

func refuse(format string, args ...any) error { return &Refusal{msg: fmt.Sprintf(format, args...)} }

func refuseAddr(format string, args ...any) error {
	return &Refusal{msg: fmt.Sprintf(format, args...), allowed: true}
}

// hint ends an address's refusal: the operator may allow it.
const hint = "webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var " + Var + ")"

// Policy is which addresses webhooks may call: public ones, and those the
// operator allowed. The zero Policy allows only public addresses. It is
// immutable.
type Policy struct {
	all   bool
	nets  []netip.Prefix
	hosts []string // lower case, without a trailing dot
}

// Parse reads an operator's exceptions: entries separated by commas or
// spaces, each a CIDR ("10.0.0.0/8", "fd00::/8"), an address
// ("127.0.0.1", "::1") or a host name ("hooks.internal", allowed with
// every address it resolves to); "*" allows every address. "" is the
// zero Policy.
func Parse(list string) (Policy, error) {
	var p Policy
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if e == "*" {
			p.all = true
			continue
		}
		if strings.Contains(e, "://") {
			return Policy{}, fmt.Errorf("%q is a URL: give its host name or address", e)
		}
		if strings.Contains(e, "/") {
			pr, err := netip.ParsePrefix(e)
			if err != nil {
				return Policy{}, fmt.Errorf("%q is not a CIDR: %v", e, err)
			}
			p.nets = append(p.nets, pr.Masked())
			continue
		}
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")); err == nil {
			a = a.WithZone("").Unmap()
			p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		h := normalHost(e)
		if !validName(h) {
			return Policy{}, fmt.Errorf("%q is neither a CIDR, an address nor a host name", e)
		}
		p.hosts = append(p.hosts, h)
	}
	return p, nil
}

// String lists the exceptions as [Parse] reads them ("" for none).
func (p Policy) String() string {
	var s []string
	if p.all {
		s = append(s, "*")
	}
	for _, n := range p.nets {
		s = append(s, n.String())
	}
	return strings.Join(append(s, p.hosts...), ",")
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func (p Policy) hostAllowed(host string) bool {
	return p.all || slices.Contains(p.hosts, normalHost(host))
}

// CheckAddr reports whether a webhook may connect to ip, an address host
// (the URL's host: a name or a literal) resolved to: ip is public, or
// host or ip is allowed by the operator.
func (p Policy) CheckAddr(host string, ip netip.Addr) error {
	if p.hostAllowed(host) {
		return nil
	}
	ip = ip.WithZone("")
	why := Reason(ip)
	if why == "" {
		return nil
	}
	for _, n := range p.nets {
		if n.Contains(ip) || n.Contains(ip.Unmap()) {
			return nil
		}
	}
	what := ip.String()
	if h := normalHost(host); h != "" && h != what && !strings.Contains(h, ":") {
		what = fmt.Sprintf("%s (%s)", h, ip)
	}
	return refuseAddr("%s is %s", what, why)
}

// CheckURL reports whether a webhook may call raw: an http or https URL
// whose host, when it is an address (in any spelling a WHATWG URL parser
// reads as one), is allowed by [Policy.CheckAddr]. With names, a host
// name is judged by its spelling too ([Policy.CheckName]): for a runtime
// that cannot resolve it first, and for vet. Messages never repeat the
// URL, which may hold credentials.
func (p Policy) CheckURL(raw string, names bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return refuse("the URL does not parse")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		if s == "" {
			return refuse("the URL has no scheme: only http and https are allowed")
		}
		return refuse("the URL's scheme is %q: only http and https are allowed", s)
	}
	host := u.Hostname()
	if host == "" {
		return refuse("the URL has no host")
	}
	for _, r := range host {
		if r > 0x7e || r <= ' ' {
			return refuse("the URL's host %q is not ASCII: write it as punycode (xn--...)", host)
		}
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return refuse("the URL's host %q is not an IPv6 address", host)
		}
		return p.CheckAddr(host, a)
	}
	h := normalHost(host)
	if a, number, ok := ipv4(h); number {
		if !ok {
			return refuse("the URL's host %q is not a valid IPv4 address", host)
		}
		return p.CheckAddr(h, a)
	}
	if names {
		return p.CheckName(h)
	}
	return nil
}

// localSuffixes end the names of local networks and special-use domains
// that no public resolver answers.
var localSuffixes = []string{".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet"}

// CheckName judges a host name by its spelling, for a runtime that cannot
// resolve it: it refuses localhost, names of local networks (*.internal,
// where cloud metadata servers are named, *.local, *.home.arpa, ...) and
// names without a dot (a search domain's, such as "metadata"), unless
// the operator allowed the name.
func (p Policy) CheckName(host string) error {
	h := normalHost(host)
	if p.hostAllowed(h) {
		return nil
	}
	why := ""
	switch {
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		why = "a loopback name"
	case !strings.Contains(h, "."):
		why = "a name without a dot (a local network's)"
	default:
		for _, s := range localSuffixes {
			if strings.HasSuffix(h, s) {
				why = "a local network's name"
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return refuseAddr("%s is %s", h, why)
}

// Special addresses, beside those netip classifies.
var (
	metadata = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, Oracle, ...
		netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	}
	special = []struct {
		net netip.Prefix
		why string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
		{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
		{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
		{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
		{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
		{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
		{netip.MustParsePrefix("100::/64"), "a discard address"},
		{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
		{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	}
	// embedding hold an IPv4 address at a byte offset; it decides.
	embedding = []struct {
		net netip.Prefix
		at  int
	}{
		{netip.MustParsePrefix("64:ff9b::/96"), 12},   // NAT64
		{netip.MustParsePrefix("64:ff9b:1::/48"), 12}, // local NAT64
		{netip.MustParsePrefix("2002::/16"), 2},       // 6to4
	}
)

// Reason says why ip is not a public unicast address ("a loopback
// address", ...), or "" when it is one.
func Reason(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if slices.Contains(metadata, ip) {
		return "a cloud metadata address"
	}
	switch {
	case !ip.IsValid():
		return "not an address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip.IsPrivate():
		return "a private address"
	}
	for _, s := range special {
		if s.net.Contains(ip) {
			return s.why
		}
	}
	for _, e := range embedding {
		if e.net.Contains(ip) {
			b := ip.As16()
			if why := Reason(netip.AddrFrom4([4]byte(b[e.at : e.at+4]))); why != "" {
				return why + " (inside an IPv6 one)"
			}
		}
	}
	if !ip.IsGlobalUnicast() {
		return "not a unicast address"
	}
	return ""
}

// ipv4 reads host as the WHATWG URL standard's host parser does: when its
// last label is a number (decimal, 0x hex or 0-led octal), the host is an
// IPv4 address of one to four numbers ("127.1", "2130706433") or invalid.
// number reports whether it ends in a number; ok whether it is valid.
func ipv4(host string) (a netip.Addr, number, ok bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if !endsInNumber(parts[len(parts)-1]) {
		return netip.Addr{}, false, false
	}
	if len(parts) > 4 {
		return netip.Addr{}, true, false
	}
	nums := make([]uint64, len(parts))
	for i, s := range parts {
		n, ok := ipv4Number(s)
		if !ok || (i < len(parts)-1 && n > 255) {
			return netip.Addr{}, true, false
		}
		nums[i] = n
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, true, false
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		v += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, true
}

func endsInNumber(s string) bool {
	if s == "" {
		return false
	}
	if strings.Trim(s, "0123456789") == "" {
		return true
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return strings.Trim(s[2:], "0123456789abcdefABCDEF") == ""
	}
	return false
}

func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		s, base = s[2:], 16
		if s == "" {
			return 0, true
		}
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

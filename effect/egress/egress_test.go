package egress_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/effect/egress"
)

func TestReason(t *testing.T) {
	cases := map[string]string{
		"8.8.8.8":                "",
		"1.1.1.1":                "",
		"2606:4700:4700::1111":   "",
		"127.0.0.1":              "a loopback address",
		"127.255.0.9":            "a loopback address",
		"::1":                    "a loopback address",
		"0.0.0.0":                "an unspecified address",
		"0.1.2.3":                `a "this network" address`,
		"::":                     "an unspecified address",
		"10.1.2.3":               "a private address",
		"172.16.0.1":             "a private address",
		"192.168.1.1":            "a private address",
		"fc00::1":                "a private address",
		"169.254.169.254":        "a cloud metadata address",
		"fd00:ec2::254":          "a cloud metadata address",
		"100.100.100.200":        "a cloud metadata address",
		"169.254.1.1":            "a link-local address",
		"fe80::1":                "a link-local address",
		"fe80::1%eth0":           "a link-local address",
		"224.0.0.1":              "a link-local address",
		"239.1.1.1":              "a multicast address",
		"ff0e::1":                "a multicast address",
		"100.64.0.1":             "a shared (CGNAT) address",
		"100.127.255.254":        "a shared (CGNAT) address",
		"100.128.0.1":            "",
		"255.255.255.255":        "a reserved address",
		"198.18.0.1":             "a benchmarking address",
		"192.0.0.192":            "an IETF protocol address",
		"::ffff:127.0.0.1":       "a loopback address",
		"::ffff:169.254.169.254": "a cloud metadata address",
		"::ffff:8.8.8.8":         "",
		"::127.0.0.1":            "an IPv4-compatible address",
		"64:ff9b::7f00:1":        "a loopback address (inside an IPv6 one)",
		"64:ff9b::808:808":       "",
		"2002:a00:1::1":          "a private address (inside an IPv6 one)",
		"fec0::1":                "a site-local address",
	}
	for addr, want := range cases {
		assert.Equal(t, want, egress.Reason(netip.MustParseAddr(addr)), addr)
	}
}

func TestCheckURL(t *testing.T) {
	var none egress.Policy
	loop, err := egress.Parse("127.0.0.0/8, ::1 hooks.internal")
	require.NoError(t, err)
	all, err := egress.Parse("*")
	require.NoError(t, err)
	cases := []struct {
		url   string
		p     egress.Policy
		names bool
		want  string // "" : allowed
	}{
		{"https://hooks.example/in?sig=x", none, true, ""},
		{"http://8.8.8.8:8080/", none, true, ""},
		{"HTTPS://Hooks.Example./in", none, true, ""},
		{"file:///etc/passwd", none, false, `the URL's scheme is "file": only http and https are allowed`},
		{"gopher://hooks.example/", none, false, `the URL's scheme is "gopher"`},
		{"hooks.example/in", none, false, "the URL has no scheme"},
		{"http:///in", none, false, "the URL has no host"},
		{"http://[::1", none, false, "the URL does not parse"},
		{"http://127.0.0.1:9/hook", none, false, "127.0.0.1 is a loopback address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW)"},
		{"http://169.254.169.254/latest/meta-data/", none, false, "169.254.169.254 is a cloud metadata address"},
		{"http://[fd00:ec2::254]/", none, false, "fd00:ec2::254 is a cloud metadata address"},
		{"http://[::ffff:127.0.0.1]/", none, false, "::ffff:127.0.0.1 is a loopback address"},
		{"http://[::ffff:7f00:1]/", none, false, "is a loopback address"},
		{"http://[::]/", none, false, ":: is an unspecified address"},
		{"http://0.0.0.0/", none, false, "0.0.0.0 is an unspecified address"},
		{"http://[fe80::1%25eth0]/", none, false, "is a link-local address"},
		{"http://100.64.1.1/", none, false, "is a shared (CGNAT) address"},
		// What a WHATWG parser (fetch) reads as an address.
		{"http://2130706433/", none, false, "2130706433 (127.0.0.1) is a loopback address"},
		{"http://127.1/", none, false, "127.1 (127.0.0.1) is a loopback address"},
		{"http://0x7f.0.0.1/", none, false, "0x7f.0.0.1 (127.0.0.1) is a loopback address"},
		{"http://0177.0.0.1/", none, false, "(127.0.0.1) is a loopback address"},
		{"http://0xA9FEA9FE/", none, false, "(169.254.169.254) is a cloud metadata address"},
		{"http://127.0.0.1./", none, false, "127.0.0.1 is a loopback address"},
		{"http://%31%32%37.0.0.1/", none, false, "the URL does not parse"},
		{"http://1.2.3.4.5/", none, false, `the URL's host "1.2.3.4.5" is not a valid IPv4 address`},
		{"http://256.0.0.1/", none, false, "is not a valid IPv4 address"},
		{"http://10.0.0.0x/", none, false, "10.0.0.0x (10.0.0.0) is a private address"},
		{"http://v1.2.example/", none, true, ""},
		{"http://ｌｏｃａｌｈｏｓｔ/", none, true, "is not ASCII"},
		// Names: judged by their spelling only when asked.
		{"http://localhost:8080/", none, false, ""},
		{"http://localhost:8080/", none, true, "localhost is a loopback name"},
		{"http://LocalHost./", none, true, "localhost is a loopback name"},
		{"http://a.localhost/", none, true, "a.localhost is a loopback name"},
		{"http://metadata.google.internal/", none, true, "metadata.google.internal is a local network's name"},
		{"http://metadata/", none, true, "metadata is a name without a dot"},
		{"http://printer.local/", none, true, "a local network's name"},
		{"http://router.home.arpa/", none, true, "a local network's name"},
		// The operator's exceptions.
		{"http://127.0.0.1:9/hook", loop, true, ""},
		{"http://[::1]:9/hook", loop, true, ""},
		{"http://[::ffff:127.0.0.1]/", loop, true, ""},
		{"http://hooks.internal/", loop, true, ""},
		{"http://HOOKS.internal./", loop, true, ""},
		{"http://other.internal/", loop, true, "other.internal is a local network's name"},
		{"http://localhost/", loop, true, "localhost is a loopback name"},
		{"http://10.0.0.1/", loop, true, "10.0.0.1 is a private address"},
		{"http://169.254.169.254/", all, true, ""},
		{"http://localhost/", all, true, ""},
		{"file:///etc/passwd", all, true, `the URL's scheme is "file"`},
	}
	for _, c := range cases {
		err := c.p.CheckURL(c.url, c.names)
		if c.want == "" {
			assert.NoError(t, err, c.url)
			continue
		}
		if assert.Error(t, err, c.url) {
			assert.Contains(t, err.Error(), c.want, c.url)
			assert.True(t, errors.Is(err, egress.ErrRefused), c.url)
			assert.NotContains(t, err.Error(), "/hook", "a refusal does not repeat the URL")
		}
	}
}

func TestCheckAddr(t *testing.T) {
	p, err := egress.Parse("10.0.0.0/8,hooks.internal")
	require.NoError(t, err)
	ip := netip.MustParseAddr
	assert.NoError(t, p.CheckAddr("hooks.example", ip("93.184.215.14")))
	assert.NoError(t, p.CheckAddr("x.example", ip("10.1.1.1")))
	assert.NoError(t, p.CheckAddr("x.example", ip("::ffff:10.1.1.1")))
	assert.NoError(t, p.CheckAddr("hooks.internal", ip("192.168.1.1")), "an allowed name is allowed whatever it resolves to")
	err = p.CheckAddr("localhost", ip("::1"))
	assert.EqualError(t, err, "localhost (::1) is a loopback address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW)")
	assert.ErrorIs(t, p.CheckAddr("rebind.example", ip("169.254.169.254")), egress.ErrRefused)
}

func TestParse(t *testing.T) {
	p, err := egress.Parse(" 10.0.0.0/8 ,fd00::/8,127.0.0.1, [::1] Hooks.Internal. ,*")
	require.NoError(t, err)
	assert.Equal(t, "*,10.0.0.0/8,fd00::/8,127.0.0.1/32,::1/128,hooks.internal", p.String())
	p, err = egress.Parse("")
	require.NoError(t, err)
	assert.Equal(t, "", p.String())
	for in, want := range map[string]string{
		"10.0.0.0/33": `"10.0.0.0/33" is not a CIDR`,
		"http://x":    `"http://x" is a URL: give its host name or address`,
		"a,b!":        `"b!" is neither a CIDR, an address nor a host name`,
	} {
		_, err := egress.Parse(in)
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}

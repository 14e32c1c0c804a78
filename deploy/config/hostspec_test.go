package config

import (
	"strings"
	"testing"
)

func TestParseHostSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    HostSpec
		wantErr string
	}{
		{"web1", HostSpec{Host: "web1"}, ""},
		{"web1.example.com", HostSpec{Host: "web1.example.com"}, ""},
		{"deploy@web1.example.com", HostSpec{User: "deploy", Host: "web1.example.com"}, ""},
		{"web1:2222", HostSpec{Host: "web1", Port: 2222}, ""},
		{"deploy@web1:2222", HostSpec{User: "deploy", Host: "web1", Port: 2222}, ""},
		{"127.0.0.1:22", HostSpec{Host: "127.0.0.1", Port: 22}, ""},
		{"[::1]:2222", HostSpec{Host: "::1", Port: 2222}, ""},
		{"[::1]", HostSpec{Host: "::1"}, ""},
		{"user@[fe80::1%eth0]:22", HostSpec{User: "user", Host: "fe80::1%eth0", Port: 22}, ""},
		{"2001:db8::1", HostSpec{Host: "2001:db8::1"}, ""},
		{"machine$@host", HostSpec{User: "machine$", Host: "host"}, ""},
		{"", HostSpec{}, "empty host"},
		{"deploy@", HostSpec{}, "empty host name"},
		{"@web", HostSpec{}, "empty user"},
		{"-oProxyCommand=x", HostSpec{}, "starts with '-'"},
		{"-l@host", HostSpec{}, "starts with '-'"},
		{"web1:0", HostSpec{}, "not a number from 1 to 65535"},
		{"web1:65536", HostSpec{}, "not a number from 1 to 65535"},
		{"web1:022", HostSpec{}, "not a number"},
		{"web1:+22", HostSpec{}, "not a number"},
		{"web1:", HostSpec{}, "not a number"},
		{"web 1", HostSpec{}, "has ' '"},
		{"web1;reboot", HostSpec{}, "has ';'"},
		{"$(reboot)@web1", HostSpec{}, "has '$'"},
		{"[web1]:22", HostSpec{}, "only IPv6 addresses go in brackets"},
		{"[::1]22", HostSpec{}, "expected ':PORT'"},
		{"[::1", HostSpec{}, "missing ']'"},
		{"a:b:c", HostSpec{}, "not an IPv6 address"},
	}
	for _, tt := range tests {
		got, err := ParseHostSpec(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseHostSpec(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseHostSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if again, err := ParseHostSpec(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q through %q = %+v, %v", tt.in, got.String(), again, err)
		}
	}
}

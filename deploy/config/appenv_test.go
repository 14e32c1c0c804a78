package config

import "testing"

// [app] env reaches collectstatic, migrate and reload, under their own
// env, and no other step.
func TestAppEnv(t *testing.T) {
	df, err := Parse("Deployfile", []byte(`[app]
path = "/srv/x"
env = { DJANGO_SETTINGS_MODULE = "x.settings", MODE = "{{mode}}" }
[vars]
mode = "prod"
[hosts]
web = ["a"]
[tasks.deploy]
steps = [
  { builtin = "collectstatic" },
  { builtin = "migrate" },
  { builtin = "reload", env = { MODE = "own" } },
  { run = "true" },
  { builtin = "healthcheck", with = { url = "http://a/" } },
]
`), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	steps := df.Tasks["deploy"].Steps
	for i, want := range []map[string]string{
		{"DJANGO_SETTINGS_MODULE": "x.settings", "MODE": "{{mode}}"},
		{"DJANGO_SETTINGS_MODULE": "x.settings", "MODE": "{{mode}}"},
		{"DJANGO_SETTINGS_MODULE": "x.settings", "MODE": "own"},
		nil,
		nil,
	} {
		got := steps[i].Env
		if len(got) != len(want) {
			t.Errorf("step %d (%s): env %v, want %v", i+1, steps[i].Arg, got, want)
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("step %d (%s): %s=%q, want %q", i+1, steps[i].Arg, k, got[k], v)
			}
		}
	}
	if _, err := Parse("Deployfile", []byte("[app]\nenv = { \"1BAD\" = \"x\" }\n"), LoadOptions{}); err == nil {
		t.Error("a bad name in [app] env loaded")
	}
}

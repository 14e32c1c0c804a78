package tasks

import (
	"context"
	"fmt"
)

// PreSwitch is a step acting on the release in use that can try a
// prepared release before any host switches to it: the engine runs it on
// every host first, and a release that fails it goes live nowhere.
type PreSwitch interface {
	AfterSwitch
	// PreSwitch tries the release in dir on env's host, with the step's
	// environment; an error says why it must not go live.
	PreSwitch(ctx context.Context, env *Env, dir string) error
}

// PreSwitch of method "gunicorn": the release imports its WSGI app with
// the app's environment and, a Django project, passes Django's system
// checks (settings, apps, models, URLs — what `manage.py check` runs):
// an import or settings error, in production only, stops the deploy
// while every host still serves the release before. It notes the first
// name of ALLOWED_HOSTS in the release, for the health check's Host
// header. Other methods know no entry point to try.
func (reloadStep) PreSwitch(ctx context.Context, env *Env, dir string) error {
	if m, _ := env.With["method"].(string); m != "gunicorn" {
		return nil
	}
	s, err := gunicornSettingsOf(env)
	if err != nil {
		return err
	}
	if err := run(ctx, env, preSwitchScript(s, dir)); err != nil {
		return fmt.Errorf("the release failed its check before the switch (importing %s, Django's checks): %w", s.wsgi, err)
	}
	if env.Release != nil {
		env.Release.Tried = env.Release.Prepared
	}
	return nil
}

// preSwitchScript runs in the prepared release; output only on failure.
func preSwitchScript(s gunicornSettings, dir string) string {
	return fmt.Sprintf(`cd %[1]s
out=$(%[2]s -c 'import importlib, os, sys
sys.path.insert(0, os.getcwd())
mod, _, attr = sys.argv[1].partition(":")
app = getattr(importlib.import_module(mod), attr or "application", None)
if app is None:
    sys.exit("%%s has no WSGI callable %%s" %% (mod, attr or "application"))
try:
    from django.conf import settings
    django = settings.configured
except ImportError:
    django = False
host = ""
if django:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    try:
        call_command("check", stdout=open(os.devnull, "w"))
    except SystemCheckError as e:
        sys.exit(str(e))
    names = [h.lstrip(".") for h in settings.ALLOWED_HOSTS]
    if names and "*" not in names:
        host = names[0]
with open(sys.argv[2], "w") as f:
    f.write(host + "\n")' %[3]s %[4]s 2>&1) || { printf '%%s\n' "$out" | tail -n 8 >&2; exit 1; }`,
		q(dir), q(s.python), q(s.wsgi), q(allowedHostFile))
}

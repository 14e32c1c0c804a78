package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// The release cache is what shell completion knows of a target's
// releases (for `deploy rollback TARGET --to`) without connecting
// anywhere: the names `deploy releases TARGET` last listed on this
// machine, one small JSON file per Deployfile and target under the user's
// cache directory (os.UserCacheDir: ~/.cache/deploy/releases on Linux,
// ~/Library/Caches/deploy/releases on macOS). It is only ever a hint:
// rollback itself reads the hosts.

// releaseCache is the file's content.
type releaseCache struct {
	Deployfile string          `json:"deployfile"` // absolute
	Target     string          `json:"target"`
	Written    time.Time       `json:"written"`
	Releases   []cachedRelease `json:"releases"` // newest first
}

type cachedRelease struct {
	Name    string `json:"name"`
	SHA     string `json:"sha"`
	Hosts   int    `json:"hosts"`   // how many hosts have it
	Current int    `json:"current"` // on how many it is current
}

// releaseCacheFile is the cache file of a Deployfile's target under the
// cache directory dir ("": the user's).
func releaseCacheFile(dir, deployfile, target string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(deployfile)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs + "\x00" + target))
	return filepath.Join(dir, "deploy", "releases", hex.EncodeToString(sum[:12])+".json"), nil
}

// rememberReleases writes the cache of a target from what `deploy
// releases` read; names that are not plain release names are left out.
// cacheDir is the cache directory, "" for the user's.
func rememberReleases(cacheDir string, df *config.Deployfile, target string, hosts []*config.Host, rels map[string][]tasks.Release) error {
	file, err := releaseCacheFile(cacheDir, df.File, target)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(df.File)
	c := releaseCache{Deployfile: abs, Target: target, Written: time.Now().UTC()}
	index := map[string]int{}
	for _, h := range hosts {
		for _, r := range rels[h.Name] {
			if !plainReleaseName(r.Name) {
				continue
			}
			i, ok := index[r.Name]
			if !ok {
				i = len(c.Releases)
				index[r.Name] = i
				c.Releases = append(c.Releases, cachedRelease{Name: r.Name, SHA: r.SHA})
			}
			c.Releases[i].Hosts++
			if r.Current {
				c.Releases[i].Current++
			}
		}
	}
	// Names start with their UTC time: newest first.
	slices.SortFunc(c.Releases, func(a, b cachedRelease) int { return strings.Compare(b.Name, a.Name) })
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", file, os.Getpid())
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// cachedReleases reads the cache of a target; nothing when there is none.
func cachedReleases(cacheDir, deployfile, target string) []cachedRelease {
	file, err := releaseCacheFile(cacheDir, deployfile, target)
	if err != nil {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var c releaseCache
	if json.Unmarshal(data, &c) != nil || c.Target != target {
		return nil
	}
	return slices.DeleteFunc(c.Releases, func(r cachedRelease) bool { return !plainReleaseName(r.Name) })
}

// plainReleaseName reports whether a name read from a host can be offered
// to a shell: letters, digits and ._- only.
func plainReleaseName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

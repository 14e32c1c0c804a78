package tasks

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// WithProblem is a value of a built-in step's with table that the step
// cannot use, found by deploy check before anything runs.
type WithProblem struct {
	Key     string
	Problem string // what is wrong, and how to write it
}

// withCheckers check one with value of a built-in; a string holding a
// {{variable}} is checked when it is filled in, at run time.
func withCheckers(builtin string) map[string]func(v any) error {
	return map[string]map[string]func(v any) error{
		"healthcheck": {
			"timeout":    healthKey("timeout"),
			"fail_after": healthKey("fail_after"),
			"status":     healthKey("status"),
			"header":     healthKey("header"),
		},
		"reload": {
			"method": func(v any) error {
				methods := []string{"gunicorn", "touch", "hup", "systemctl", "command"}
				if s, _ := v.(string); !slices.Contains(methods, s) {
					return fmt.Errorf("reload: unknown method %v: write one of %s", v, strings.Join(methods, ", "))
				}
				return nil
			},
			"workers": func(v any) error {
				if n, ok := v.(int64); !ok || n < 1 || n > 1024 {
					return fmt.Errorf("reload: with.workers must be a whole number from 1 to 1024, not %v", v)
				}
				return nil
			},
		},
	}[builtin]
}

func healthKey(k string) func(v any) error {
	return func(v any) error {
		_, err := healthSettingsOf(map[string]any{k: v})
		return err
	}
}

// CheckWith checks the values of a built-in step's with table.
func CheckWith(builtin string, with map[string]any) []WithProblem {
	var out []WithProblem
	for k, check := range withCheckers(builtin) {
		v, ok := with[k]
		if !ok {
			continue
		}
		if s, isString := v.(string); isString && strings.Contains(s, "{{") {
			continue
		}
		if f, isFloat := v.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
			continue // the Deployfile's checks say so already
		}
		if err := check(v); err != nil {
			out = append(out, WithProblem{Key: k, Problem: err.Error()})
		}
	}
	slices.SortFunc(out, func(a, b WithProblem) int { return strings.Compare(a.Key, b.Key) })
	return out
}

package main

// README.md is tested as a user reads it: every example in it is taken
// out of the file and run through the real code, so an example added
// later is exercised without touching the tests.
//
//   - Every ```toml block passes `deploy check`: as a whole Deployfile,
//     or, when the line before its fence is the HTML comment
//     `<!-- fragment -->`, merged into the README's first Deployfile
//     (tables merge key by key; a key the fragment sets wins).
//   - The first ```toml block is a whole Deployfile, and it deploys:
//     readme_deploy_test.go runs `deploy prod` with it on real sshd hosts.
//   - Every `deploy …` command in a ```sh, ```shell, ```bash or ```console
//     block (in ```console, the lines after a `$ ` prompt) parses as a
//     command line of the real CLI (readme_cli_test.go).
//   - The variables the README lists are those the code knows, each once;
//     the built-in steps and their `with` keys it names exist; every
//     table is one table (readme_names_test.go).
//
// Failures name README.md's line.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

const readmeFile = "README.md"

// mdBlock is a fenced code block of a markdown file.
type mdBlock struct {
	Lang   string   // the fence's info word: "toml", "sh", …; "" for none
	Marker string   // the HTML comment on the line before the fence ("fragment"), or ""
	Line   int      // the file's line of the first line of Lines
	Lines  []string // the block's lines as written, indentation kept
}

// Text is the block's content.
func (b mdBlock) Text() string { return strings.Join(b.Lines, "\n") + "\n" }

// Fragment reports whether the block is marked as part of a Deployfile.
func (b mdBlock) Fragment() bool { return b.Marker == "fragment" }

var (
	fenceOpen  = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([^\\s`]*)")
	htmlMarker = regexp.MustCompile(`^\s*<!--\s*(.*?)\s*-->\s*$`)
)

// parseBlocks finds the fenced code blocks of a markdown text, also those
// indented in list items.
func parseBlocks(src string) ([]mdBlock, error) {
	lines := strings.Split(src, "\n")
	var blocks []mdBlock
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := mdBlock{Lang: m[3], Line: i + 2}
		if i > 0 {
			if mm := htmlMarker.FindStringSubmatch(lines[i-1]); mm != nil {
				b.Marker = mm[1]
			}
		}
		end := i + 1
		for ; end < len(lines); end++ {
			if t := strings.TrimSpace(lines[end]); strings.HasPrefix(t, m[2]) && strings.Trim(t, m[2][:1]) == "" {
				break
			}
		}
		if end == len(lines) {
			return nil, fmt.Errorf("line %d: a code block that is never closed", i+1)
		}
		b.Lines = lines[i+1 : end]
		blocks = append(blocks, b)
		i = end
	}
	return blocks, nil
}

// readme is README.md's text and its fenced blocks.
func readme(t *testing.T) (string, []mdBlock) {
	t.Helper()
	data, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks(string(data))
	if err != nil {
		t.Fatalf("%s: %v", readmeFile, err)
	}
	return string(data), blocks
}

// readmeBlocks are README.md's blocks in one of langs.
func readmeBlocks(t *testing.T, langs ...string) []mdBlock {
	t.Helper()
	_, all := readme(t)
	var out []mdBlock
	for _, b := range all {
		for _, l := range langs {
			if b.Lang == l {
				out = append(out, b)
			}
		}
	}
	return out
}

// proseLines are the lines of a markdown text outside code blocks (those
// are "" here, so line numbers hold), and of indented code blocks too.
func proseLines(src string) []string {
	lines := strings.Split(src, "\n")
	blocks, _ := parseBlocks(src)
	out := append([]string(nil), lines...)
	for _, b := range blocks {
		for i := b.Line - 2; i <= b.Line-1+len(b.Lines) && i < len(out); i++ {
			out[i] = ""
		}
	}
	return out
}

// TestREADMEDeployfiles: every ```toml block passes deploy check, the
// first as a whole Deployfile.
func TestREADMEDeployfiles(t *testing.T) {
	t.Parallel()
	blocks := readmeBlocks(t, "toml")
	if len(blocks) == 0 {
		t.Fatalf("%s has no ```toml block", readmeFile)
	}
	if blocks[0].Fragment() {
		t.Fatalf("%s:%d: the first ```toml block is a fragment; it must be a whole Deployfile (the others merge into it)", readmeFile, blocks[0].Line)
	}
	for _, b := range blocks {
		if err := checkTOMLBlock(t, blocks[0], b); err != nil {
			t.Error(err)
		}
	}
}

// checkTOMLBlock runs deploy check on a block: written as it stands, on
// the lines and columns it has in README.md, so check's errors name
// README.md's places; or, a fragment, merged into base.
func checkTOMLBlock(t *testing.T, base, b mdBlock) error {
	t.Helper()
	dir := t.TempDir()
	if !b.Fragment() {
		file := dir + "/" + readmeFile
		text := strings.Repeat("\n", b.Line-1) + b.Text()
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := runCLI(t, "--no-color", "-f", file, "check"); code != 0 {
			return fmt.Errorf("%s:%d: this ```toml block fails deploy check (exit %d; mark a partial Deployfile with <!-- fragment --> on the line before its fence):\n%s%s",
				readmeFile, b.Line, code, strings.ReplaceAll(errOut, dir+"/", ""), out)
		}
		return nil
	}
	merged, err := mergeTOML(base.Text(), b.Text())
	if err != nil {
		return fmt.Errorf("%s:%d: the ```toml fragment does not parse: %v", readmeFile, b.Line, err)
	}
	file := dir + "/Deployfile"
	if err := os.WriteFile(file, merged, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "--no-color", "-f", file, "check"); code != 0 {
		return fmt.Errorf("%s:%d: this ```toml fragment, merged into the first Deployfile (%s:%d), fails deploy check (exit %d):\n%s%s\nthe merged Deployfile:\n%s",
			readmeFile, b.Line, readmeFile, base.Line, code, strings.ReplaceAll(errOut, dir+"/", ""), out, merged)
	}
	return nil
}

// mergeTOML is base with fragment merged in: tables key by key, any other
// value the fragment's.
func mergeTOML(base, fragment string) ([]byte, error) {
	var b, f map[string]any
	if err := toml.Unmarshal([]byte(base), &b); err != nil {
		return nil, fmt.Errorf("the base: %w", err)
	}
	if err := toml.Unmarshal([]byte(fragment), &f); err != nil {
		return nil, err
	}
	mergeTables(b, f)
	return toml.Marshal(b)
}

func mergeTables(dst, src map[string]any) {
	for k, v := range src {
		sub, isTable := v.(map[string]any)
		if have, ok := dst[k].(map[string]any); ok && isTable {
			mergeTables(have, sub)
			continue
		}
		dst[k] = v
	}
}

// A fragment is marked by the comment before its fence, merged into the
// first Deployfile and checked; a bad one fails and names its line.
func TestREADMEFragments(t *testing.T) {
	t.Parallel()
	md := "# x\n\n```toml\n[app]\nname = \"a\"\n\n[hosts]\nweb = [\"web1\"]\n\n[tasks.deploy]\nsteps = [{ run = \"true\", on = \"web\" }]\n```\n\n" +
		"<!-- fragment -->\n```toml\n[tasks.maintenance]\nsteps = [{ run = \"uptime\", on = \"web\" }]\n\n[hosts]\nstatic = [\"static1\"]\n```\n\n" +
		"<!-- fragment -->\n  ```toml\n  [tasks.bad]\n  steps = [{ run = \"true\", on = \"wbe\" }]\n  ```\n"
	blocks, err := parseBlocks(md)
	if err != nil || len(blocks) != 3 {
		t.Fatalf("blocks %+v, %v", blocks, err)
	}
	if blocks[0].Fragment() || !blocks[1].Fragment() || !blocks[2].Fragment() || blocks[1].Line != 16 || blocks[2].Line != 25 {
		t.Fatalf("blocks: %+v", blocks)
	}
	if err := checkTOMLBlock(t, blocks[0], blocks[1]); err != nil {
		t.Errorf("a good fragment: %v", err)
	}
	err = checkTOMLBlock(t, blocks[0], blocks[2])
	if err == nil || !strings.HasPrefix(err.Error(), readmeFile+":25: ") || !strings.Contains(err.Error(), `unknown group "wbe"`) {
		t.Errorf("a bad fragment: %v", err)
	}
	// A whole file's errors name the README's line and column.
	blocks[2].Marker = ""
	err = checkTOMLBlock(t, blocks[0], blocks[2])
	if err == nil || !strings.Contains(err.Error(), readmeFile+`:26:33: error: unknown group "wbe"`) {
		t.Errorf("a bad whole Deployfile: %v", err)
	}
}

var tableDelimiter = regexp.MustCompile(`^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$`)

// tableCells counts the cells of a table row: the pipes not escaped
// (`\|`), less the leading and trailing ones.
func tableCells(row string) int {
	row = strings.TrimSpace(strings.ReplaceAll(row, `\|`, ""))
	n := strings.Count(row, "|") + 1
	if strings.HasPrefix(row, "|") {
		n--
	}
	if strings.HasSuffix(row, "|") {
		n--
	}
	return n
}

// tableProblems: each run of table rows (lines starting with "|", outside
// code blocks) is one table: a header row, a delimiter row, and rows of
// as many cells as the header. A blank line inside a table splits it into
// a table and a run of rows without a header.
func tableProblems(src string) []string {
	var problems []string
	lines := proseLines(src)
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "|") {
			continue
		}
		start := i
		for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "|") {
			i++
		}
		rows := lines[start : i+1]
		if len(rows) < 2 || !tableDelimiter.MatchString(strings.TrimSpace(rows[1])) {
			problems = append(problems, fmt.Sprintf("%s:%d: table rows without a header and delimiter row (| --- |) above them: is a blank line splitting a table?", readmeFile, start+1))
			continue
		}
		want := tableCells(rows[0])
		for j, r := range rows[1:] {
			if n := tableCells(r); n != want {
				problems = append(problems, fmt.Sprintf("%s:%d: a table row of %d cells; the header (line %d) has %d", readmeFile, start+j+2, n, start+1, want))
			}
		}
	}
	return problems
}

// TestREADMETables: every table of README renders as one table.
func TestREADMETables(t *testing.T) {
	t.Parallel()
	src, _ := readme(t)
	for _, p := range tableProblems(src) {
		t.Error(p)
	}
	broken := "| a | b |\n| --- | --- |\n| `x\\|y` | 1 |\n\n| c | 2 |\n\n| a | b |\n| --- | --- |\n| 1 | 2 | 3 |\n\n```sh\n| not a table\n```\n"
	want := []string{readmeFile + ":5: table rows without a header", readmeFile + ":9: a table row of 3 cells; the header (line 7) has 2"}
	got := tableProblems(broken)
	if len(got) != len(want) {
		t.Fatalf("problems of a broken table: %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %q, want %q", got[i], want[i])
		}
	}
}

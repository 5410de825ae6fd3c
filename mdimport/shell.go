package mdimport

import (
	"path"
	"strings"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// logical is one shell command line: physical lines joined where a line
// ends with a backslash, a quote is still open or a here-document runs on.
type logical struct {
	text string // the raw lines, newlines kept
	line int    // 1-based line of its first physical line in the document
}

// comment reports whether the line is a comment or blank.
func (l logical) comment() bool {
	t := strings.TrimSpace(l.text)
	return t == "" || strings.HasPrefix(t, "#")
}

var heredocStart = lazyre.New(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// logicalLines splits code into logical lines; first is the document line
// of the code's first line.
func logicalLines(code string, first int) []logical {
	phys := strings.Split(strings.TrimRight(code, "\n"), "\n")
	var out []logical
	for i := 0; i < len(phys); i++ {
		start := i
		cur := phys[i]
		if strings.HasPrefix(strings.TrimSpace(cur), "#") {
			out = append(out, logical{text: cur, line: first + i})
			continue
		}
		for i+1 < len(phys) && (strings.HasSuffix(cur, `\`) || openQuote(cur)) {
			i++
			cur += "\n" + phys[i]
		}
		if m := heredocStart.FindStringSubmatch(cur); m != nil && !inQuotes(cur, strings.Index(cur, m[0])) {
			for i+1 < len(phys) {
				i++
				cur += "\n" + phys[i]
				if strings.TrimSpace(phys[i]) == m[1] {
					break
				}
			}
		}
		out = append(out, logical{text: cur, line: first + start})
	}
	return out
}

// openQuote reports whether s ends inside a quoted string.
func openQuote(s string) bool {
	return inQuotes(s, len(s))
}

// inQuotes reports whether byte position pos of s is inside quotes.
func inQuotes(s string, pos int) bool {
	var q byte
	for i := 0; i < pos && i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			// A comment runs to the end of the line.
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case q == 0 && c == '\\':
			i++
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q == '"' && c == '\\':
			i++
		case c == q:
			q = 0
		}
	}
	return q != 0
}

// words splits a command into shell words, removing quotes. It is not a
// shell: expansions are kept as written.
func words(s string) []string {
	var out []string
	var cur strings.Builder
	have := false
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case q == 0 && c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				have = true
			}
		case q == 0 && (c == '\'' || c == '"'):
			q = c
			have = true
		case q == '"' && c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			i++
			cur.WriteByte(s[i])
		case q != 0 && c == q:
			q = 0
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// segments splits a command line at |, ||, &&, ; and & outside quotes and
// returns each simple command's words, leading sudo, env assignments and
// time/nohup wrappers removed. A here-document's body is dropped.
func segments(s string) [][]string {
	if i := strings.Index(s, "\n"); i >= 0 && heredocStart.MatchString(s[:i]) {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "\\\n", " ")
	var parts []string
	var q byte
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && c == '\\':
			i++
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q == '"' && c == '\\':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '|' || c == ';' || c == '&' || c == '\n'):
			if c == '&' && (i > 0 && (s[i-1] == '>' || s[i-1] == '<') || i+1 < len(s) && s[i+1] == '>') {
				continue // 2>&1, &>
			}
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	parts = append(parts, s[last:])
	var out [][]string
	for _, p := range parts {
		w := stripWrappers(words(p))
		if len(w) > 0 {
			out = append(out, w)
		}
	}
	return out
}

var envAssign = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*=`)

func stripWrappers(w []string) []string {
	for len(w) > 0 {
		switch {
		case envAssign.MatchString(w[0]):
			w = w[1:]
		case w[0] == "sudo":
			w = w[1:]
			for len(w) > 0 && strings.HasPrefix(w[0], "-") {
				opt := w[0]
				w = w[1:]
				if (opt == "-u" || opt == "-g" || opt == "-C") && len(w) > 0 {
					w = w[1:]
				}
			}
		case w[0] == "time" || w[0] == "nohup" || w[0] == "exec" || w[0] == "command":
			w = w[1:]
		case w[0] == "(" || w[0] == "{":
			w = w[1:]
		default:
			return w
		}
	}
	return w
}

// sshTarget is where commands run: local when host is empty.
type sshTarget struct {
	user, host string
}

func (t sshTarget) local() bool { return t.host == "" }

// sshOptsWithArg are the ssh options that take an argument.
const sshOptsWithArg = "BbcDEeFIiJLlmOopQRSWw"

// parseSSH recognises `ssh [opts] [user@]host [command]`. rest is the
// remote command as written (one level of quotes removed when it is a
// single quoted word); ok is false when line is not an ssh command.
func parseSSH(line string) (t sshTarget, rest string, ok bool) {
	s := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(s, "ssh ") && !strings.HasPrefix(s, "ssh\t") {
		return t, "", false
	}
	pos := 3
	for {
		for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\\' || s[pos] == '\n') {
			pos++
		}
		if pos >= len(s) {
			return t, "", false
		}
		end := pos
		for end < len(s) && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' {
			end++
		}
		tok := s[pos:end]
		pos = end
		if strings.HasPrefix(tok, "-") {
			if len(tok) == 2 && strings.IndexByte(sshOptsWithArg, tok[1]) >= 0 {
				for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
					pos++
				}
				e := pos
				for e < len(s) && s[e] != ' ' && s[e] != '\t' && s[e] != '\n' {
					e++
				}
				if tok == "-l" {
					t.user = s[pos:e]
				}
				pos = e
			}
			continue
		}
		if strings.ContainsAny(tok, "'\"$`;|&<>(){}") {
			return t, "", false
		}
		if at := strings.LastIndexByte(tok, '@'); at >= 0 {
			t.user, t.host = tok[:at], tok[at+1:]
		} else {
			t.host = tok
		}
		break
	}
	if !hostLike.MatchString(t.host) {
		return sshTarget{}, "", false
	}
	rest = strings.TrimSpace(s[pos:])
	if rest != "" {
		if w := words(rest); len(w) == 1 && (rest[0] == '\'' || rest[0] == '"') && rest[len(rest)-1] == rest[0] {
			rest = w[0]
			if rest != "" && s[pos:] != "" && strings.HasPrefix(strings.TrimSpace(s[pos:]), `"`) {
				rest = strings.TrimSpace(s[pos:])
				rest = rest[1 : len(rest)-1]
			}
		}
	}
	return t, rest, true
}

var hostLike = lazyre.New(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$|^\[[0-9a-fA-F:]+\]$`)

// readOnlyHeads are commands that only look at the world.
var readOnlyHeads = map[string]bool{
	"ls": true, "cat": true, "grep": true, "egrep": true, "fgrep": true, "head": true, "tail": true,
	"echo": true, "printf": true, "sleep": true, "df": true, "du": true, "free": true, "uptime": true,
	"ps": true, "pgrep": true, "whoami": true, "date": true, "test": true, "[": true, "true": true,
	"wc": true, "sort": true, "uniq": true, "jq": true, "stat": true, "which": true, "id": true,
	"hostname": true, "nslookup": true, "dig": true, "host": true, "ping": true, "cd": true, "pwd": true,
	"less": true, "more": true, "watch": true, "journalctl": true, "netstat": true, "ss": true,
	"lsof": true, "top": true, "htop": true, "vmstat": true, "iostat": true, "env": true, "md5sum": true,
	"sha256sum": true, "sha1sum": true, "diff": true, "file": true, "tree": true, "cut": true,
	"tr": true, "column": true, "nc": true, "telnet": true, "traceroute": true, "openssl": true,
	"k6": true, "exit": true, "cmp": true, "xargs": false, "yes": false, "awk": true, "getent": true,
	"wget": false, "curl": true, "http": false, "nginx": false, "ab": true, "hey": true,
}

// readOnlySubcommands lists, per tool, the subcommands that only read.
var readOnlySubcommands = map[string][]string{
	"docker":       {"ps", "images", "logs", "inspect", "version", "info", "stats", "top", "port", "history", "events"},
	"kubectl":      {"get", "describe", "logs", "top", "diff", "explain", "version", "cluster-info", "api-resources", "wait"},
	"systemctl":    {"status", "is-active", "is-enabled", "is-failed", "list-units", "show", "cat"},
	"service":      {"status"},
	"git":          {"status", "log", "diff", "show", "fetch", "rev-parse", "describe"},
	"helm":         {"status", "list", "ls", "diff", "history", "get", "template", "lint", "search"},
	"terraform":    {"plan", "validate", "show", "output", "fmt", "version"},
	"nginx":        {"-t", "-T", "-v", "-V"},
	"redis-cli":    {"ping", "info", "get", "dbsize"},
	"consul":       {"members", "info"},
	"ansible":      {"-m"},
	"npm":          {"test", "ls", "view", "outdated"},
	"kafka-topics": {"--list", "--describe"},
}

// readOnlyWords in a script's name or an npm/make target mark a check.
var readOnlyWords = lazyre.New(`(?i)(^|[^a-z])(check|verify|health|status|ping|smoke|test|validate|validation|dry-run|dryrun|lint|diff|list|show|describe|inspect)([^a-z]|$)`)

// readOnlySegment reports whether one simple command only reads.
func readOnlySegment(w []string, full string) bool {
	if len(w) == 0 {
		return true
	}
	head := path.Base(w[0])
	args := w[1:]
	for _, a := range args {
		if a == "-delete" || a == "-exec" && head == "find" {
			return false
		}
	}
	switch head {
	case "curl":
		for i, a := range args {
			switch {
			case a == "-X" || a == "--request":
				if i+1 < len(args) && !strings.EqualFold(args[i+1], "GET") && !strings.EqualFold(args[i+1], "HEAD") {
					return false
				}
			case strings.HasPrefix(a, "-X") && len(a) > 2:
				m := strings.ToUpper(a[2:])
				if m != "GET" && m != "HEAD" {
					return false
				}
			case a == "-d" || strings.HasPrefix(a, "--data") || a == "-F" || a == "--form" || a == "-T" || a == "--upload-file" || a == "--json":
				return false
			}
		}
		return true
	case "find":
		return true
	case "sed", "awk", "perl":
		for _, a := range args {
			if strings.HasPrefix(a, "-i") {
				return false
			}
		}
		return true
	case "psql", "mysql":
		for i, a := range args {
			if (a == "-c" || a == "--command" || a == "-e") && i+1 < len(args) {
				return sqlReadOnly(args[i+1])
			}
		}
		return false
	case "aws":
		if len(args) >= 2 && args[0] == "s3" && args[1] == "ls" {
			return true
		}
		for _, a := range args {
			if strings.HasPrefix(a, "describe-") || strings.HasPrefix(a, "list-") || strings.HasPrefix(a, "get-") || a == "wait" {
				return true
			}
		}
		return false
	case "docker-compose":
		return len(args) > 0 && composeReadOnly(args)
	case "docker":
		if len(args) > 0 && args[0] == "compose" {
			return composeReadOnly(args[1:])
		}
		if len(args) > 1 && args[0] == "exec" {
			return execReadOnly(args[1:], full)
		}
	case "ansible-playbook":
		for _, a := range args {
			if a == "--check" || a == "-C" || a == "--syntax-check" || a == "--list-tasks" || a == "--list-hosts" {
				return true
			}
		}
		return false
	case "npm", "yarn", "pnpm", "make", "rake", "just":
		for _, a := range args {
			if a == "run" || strings.HasPrefix(a, "-") {
				continue
			}
			return readOnlyWords.MatchString(a)
		}
		return false
	}
	if subs, ok := readOnlySubcommands[head]; ok {
		// The subcommand is the first or, after an option's value, the
		// second word that is not an option.
		seen := 0
		for _, a := range args {
			if strings.HasPrefix(a, "-") && head != "nginx" && head != "kafka-topics" {
				continue
			}
			for _, s := range subs {
				if strings.EqualFold(a, s) {
					return true
				}
			}
			if seen++; seen == 2 {
				return false
			}
		}
		return false
	}
	if readOnlyHeads[head] {
		return true
	}
	// A script named like a check (health-check.sh, verify_backup).
	if strings.Contains(w[0], "/") || strings.HasSuffix(head, ".sh") {
		return readOnlyWords.MatchString(head)
	}
	return false
}

func composeReadOnly(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-f" || a == "--file" || a == "-p" || a == "--project-name" || a == "--env-file" || a == "--profile" {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		switch a {
		case "ps", "logs", "config", "images", "top", "ls", "version", "events":
			return true
		}
		return false
	}
	return false
}

func execReadOnly(args []string, full string) bool {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if args[i] == "-u" || args[i] == "-w" || args[i] == "-e" || args[i] == "--user" || args[i] == "--workdir" {
			i++
		}
		i++
	}
	if i+1 >= len(args) {
		return false
	}
	return readOnlySegment(args[i+1:], full)
}

var sqlReadOnlyRE = lazyre.New(`(?is)^\s*(select|show|explain|with\s+[^;]*\bselect\b|\\d|\\l|\\dt|table)\b`)

func sqlReadOnly(sql string) bool {
	for _, st := range strings.Split(sql, ";") {
		if strings.TrimSpace(st) == "" {
			continue
		}
		if !sqlReadOnlyRE.MatchString(st) && !strings.HasPrefix(strings.TrimSpace(st), `\`) {
			return false
		}
	}
	return true
}

// hasWriteRedirect reports a > or >> to a file outside quotes.
func hasWriteRedirect(s string) bool {
	if i := strings.Index(s, "\n"); i >= 0 && heredocStart.MatchString(s[:i]) {
		s = s[:i]
	}
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && c == '\\':
			i++
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q != 0 && c == q:
			q = 0
		case q == 0 && c == '>':
			rest := strings.TrimLeft(s[i+1:], "> ")
			if strings.HasPrefix(s[i+1:], "&") || strings.HasPrefix(rest, "/dev/null") || strings.HasPrefix(rest, "&") {
				continue
			}
			if i > 0 && s[i-1] == '-' { // ->
				continue
			}
			return true
		}
	}
	return false
}

// readOnlyScript reports whether every command of the logical lines only
// reads the world.
func readOnlyScript(lines []logical) bool {
	for _, l := range lines {
		if l.comment() {
			continue
		}
		if hasWriteRedirect(l.text) {
			return false
		}
		if first, body, ok := strings.Cut(l.text, "\n"); ok && heredocStart.MatchString(first) {
			if w := stripWrappers(words(first)); len(w) > 0 && (w[0] == "psql" || w[0] == "mysql") {
				if i := strings.LastIndex(body, "\n"); i >= 0 && sqlReadOnly(body[:i]) {
					continue
				}
				return false
			}
		}
		for _, seg := range segments(l.text) {
			if !readOnlySegment(seg, l.text) {
				return false
			}
		}
	}
	return true
}

// looksLikeCommand reports whether s reads like a shell command rather
// than prose, a file name or an e-mail.
func looksLikeCommand(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	w := words(strings.SplitN(s, "\n", 2)[0])
	w = stripWrappers(w)
	if len(w) == 0 {
		return false
	}
	head := w[0]
	if strings.HasPrefix(head, "/") || strings.HasPrefix(head, "./") || strings.HasPrefix(head, "~/") {
		return true
	}
	if knownCommands[head] || readOnlyHeads[head] {
		return len(w) > 1 || head == "ls" || head == "uptime" || head == "df"
	}
	if _, ok := readOnlySubcommands[head]; ok {
		return len(w) > 1
	}
	return false
}

var knownCommands = map[string]bool{
	"ssh": true, "scp": true, "rsync": true, "docker": true, "docker-compose": true, "kubectl": true,
	"helm": true, "systemctl": true, "service": true, "aws": true, "gcloud": true, "az": true,
	"terraform": true, "ansible-playbook": true, "ansible": true, "psql": true, "pg_dump": true,
	"pg_restore": true, "mysql": true, "mysqldump": true, "migrate": true, "npm": true, "yarn": true,
	"pnpm": true, "make": true, "git": true, "curl": true, "wget": true, "sed": true, "cp": true,
	"mv": true, "rm": true, "ln": true, "mkdir": true, "chmod": true, "chown": true, "tar": true,
	"nginx": true, "redis-cli": true, "k6": true, "go": true, "python": true, "python3": true,
	"node": true, "bash": true, "sh": true, "sudo": true, "apt-get": true, "apt": true, "yum": true,
	"dnf": true, "pip": true, "supervisorctl": true, "pm2": true, "consul": true, "vault": true,
	"nomad": true, "flyway": true, "liquibase": true, "rails": true, "bundle": true, "rake": true,
	"kill": true, "pkill": true, "touch": true, "tee": true, "crontab": true, "iptables": true,
	"ufw": true, "certbot": true, "openssl": true, "gsutil": true, "s3cmd": true, "az ": true,
	"just": true, "cargo": true, "mvn": true, "gradle": true, "java": true, "php": true, "composer": true,
	"export": true, "source": true, "set": true, "until": true, "for": true, "while": true, "if": true,
}

package campaigns

import (
	"fmt"
	"regexp"
	"strings"
)

// Template is a parsed message template. Placeholders are {{first_name}},
// {{name}} and {{custom.FIELD}}, each with an optional fallback after a
// bar: {{first_name|there}}.
type Template struct {
	parts []part
}

type part struct {
	text     string // literal text, when field == ""
	field    string // first_name, name, custom.<key>
	fallback string
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}`)
var customKey = regexp.MustCompile(`^custom\.[a-z0-9_]{1,40}$`)

// ParseTemplate parses src; an unknown placeholder or a stray brace pair is
// an error naming it.
func ParseTemplate(src string) (Template, error) {
	var t Template
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(src, -1) {
		t.parts = append(t.parts, part{text: src[last:m[0]]})
		field := src[m[2]:m[3]]
		fallback := ""
		if m[4] >= 0 {
			fallback = strings.TrimSpace(src[m[4]:m[5]])
		}
		if field != "first_name" && field != "name" && !customKey.MatchString(field) {
			return Template{}, fmt.Errorf("unknown placeholder {{%s}}: use {{first_name}}, {{name}} or {{custom.FIELD}}", field)
		}
		t.parts = append(t.parts, part{field: field, fallback: fallback})
		last = m[1]
	}
	rest := src[last:]
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") || strings.Contains(strings.Join(literals(t), ""), "{{") {
		return Template{}, fmt.Errorf("unbalanced {{ or }} in the template")
	}
	t.parts = append(t.parts, part{text: rest})
	return t, nil
}

func literals(t Template) []string {
	var out []string
	for _, p := range t.parts {
		if p.field == "" {
			out = append(out, p.text)
		}
	}
	return out
}

// Render fills the template for one recipient. A missing value uses the
// fallback, or nothing.
func (t Template) Render(r Recipient) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.text)
			continue
		}
		v := ""
		switch {
		case p.field == "first_name":
			v = r.FirstName
		case p.field == "name":
			v = r.Name
		default:
			v = r.Custom[strings.TrimPrefix(p.field, "custom.")]
		}
		if strings.TrimSpace(v) == "" {
			v = p.fallback
		}
		b.WriteString(v)
	}
	return b.String()
}

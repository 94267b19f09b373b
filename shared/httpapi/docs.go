package httpapi

import (
	"embed"
	"net/http"
)

//go:embed docs/index.html docs/app.js
var docsFS embed.FS

// serveDocs serves the API reference page, which renders /openapi.json in
// the browser with no third-party scripts, so it also works offline.
func serveDocs(w http.ResponseWriter, r *http.Request) {
	name, ctype := "docs/index.html", "text/html; charset=utf-8"
	if r.URL.Path == "/docs/app.js" {
		name, ctype = "docs/app.js", "text/javascript; charset=utf-8"
	}
	b, err := docsFS.ReadFile(name)
	if err != nil {
		http.Error(w, "docs missing from build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

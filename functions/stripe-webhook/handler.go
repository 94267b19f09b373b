package main

import (
	"net/http"

	"github.com/chatsend/chatsend/shared/app"
)

// handler serves POST /stripe/webhook only; API Gateway routes nothing
// else here.
func handler(d *app.Deps) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /stripe/webhook", d.StripeWebhook())
	return mux
}

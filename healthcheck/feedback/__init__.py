"""User feedback: the instance's own survey (NPS, score distribution, themes of the free text).

`responses` collects and stores the answers (without identities); `nps` and `themes` analyse a
quarter of them; `analyse_feedback` is the one call the customer-quarter analysis makes. See
docs/feedback.md. Importing this package is light: scikit-learn is loaded by `themes` only.
"""

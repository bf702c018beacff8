"""Server-rendered authoring pages: question banks, questions, exams.

The pages make the same service calls as the JSON API (``content/api.py``)
with the same permissions. Every POST form carries the session's CSRF token,
checked first; a successful change redirects (303) with a fixed notice; a
refused one re-renders the page with the message in place, what was typed,
and the error's status. Each change runs in a savepoint.
"""

from fastapi import APIRouter

from invigil.content.pages import banks, drafts, exams, questions, translations

router = APIRouter(include_in_schema=False)
for module in (banks, drafts, questions, translations, exams):
    router.include_router(module.router)

__all__ = ["router"]

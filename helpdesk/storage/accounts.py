"""The agent desk's account repositories, by their former module name.

They live in their own modules now: desk users in `helpdesk.storage.desk_users`, login
sessions and trusted browsers in `helpdesk.storage.desk_sessions`, divisions in
`helpdesk.storage.divisions`, canned responses in `helpdesk.storage.canned_responses` and the
desk settings in `helpdesk.storage.desk_settings`. The names below are still imported from
here by code outside the package's own tests (tests/security, tests/support); new code imports
from the modules above.
"""

from __future__ import annotations

from helpdesk.storage.canned_responses import CannedResponseRepository as CannedResponseRepository
from helpdesk.storage.desk_sessions import DeskSessionRepository as DeskSessionRepository
from helpdesk.storage.desk_users import DeskUserRecord as DeskUserRecord
from helpdesk.storage.desk_users import DeskUserRepository as DeskUserRepository
from helpdesk.storage.divisions import DivisionRepository as DivisionRepository

# Run by `django-admin shell --command` (roles/app_django pre_switch.yml): creates or updates the
# superuser of any project through its own user model. stdin: {"name", "email", "password"}.
import json
import sys

from django.contrib.auth import get_user_model

wanted = json.load(sys.stdin)
if not wanted.get("name") or not wanted.get("password"):
    sys.exit("ensure_superuser: stdin must name the superuser and its password")
User = get_user_model()
user = User._default_manager.filter(**{User.USERNAME_FIELD: wanted["name"]}).first()
changed = user is None
if user is None:
    user = User(**{User.USERNAME_FIELD: wanted["name"]})
email_field = User.get_email_field_name()
if wanted["email"] and hasattr(user, email_field) and getattr(user, email_field) != wanted["email"]:
    setattr(user, email_field, wanted["email"])
    changed = True
for flag in ("is_staff", "is_superuser", "is_active"):
    if hasattr(user, flag) and not getattr(user, flag):
        setattr(user, flag, True)
        changed = True
if not user.check_password(wanted["password"]):
    user.set_password(wanted["password"])
    changed = True
if changed:
    user.save()
print("changed" if changed else "ok")

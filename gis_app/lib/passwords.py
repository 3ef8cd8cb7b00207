"""Password rules fit for a government system (GB/T 22239-2019 level 2 asks for complexity and periodic change):
at least 10 characters from at least three of the four classes. Django's validators add: not like the user name or
name, not a common password, not all digits."""

import string

from django.core.exceptions import ValidationError

CLASSES = (
    ("小写字母", set(string.ascii_lowercase)),
    ("大写字母", set(string.ascii_uppercase)),
    ("数字", set(string.digits)),
    ("符号", set(string.punctuation)),
)


class CharacterClassesValidator:
    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        used = [name for name, chars in CLASSES if set(password) & chars]
        if len(used) < self.min_classes:
            raise ValidationError(
                f"密码须包含小写字母、大写字母、数字、符号中的至少 {self.min_classes} 类（现为 {len(used)} 类）。",
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return f"密码须包含小写字母、大写字母、数字、符号中的至少 {self.min_classes} 类。"

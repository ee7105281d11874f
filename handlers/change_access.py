"""Who a change to a placed order is made for, and as whom (issue 13, R-6.2): shared by the change routers."""

from __future__ import annotations

from aiogram.types import User
from aiogram.utils.i18n import gettext as _

from application.finance import FinanceUnitOfWork
from application.services import Actor
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, may
from domain.orders.status import Role
from handlers.common import order_or_none, staff_roles

CUSTOMER = frozenset({Role.CUSTOMER})


def change_actor(user_id: int, roles: frozenset[Role]) -> Actor:
    """Staff act in their roles; a customer as the customer."""
    return Actor(user_id, roles if staff_roles(roles) else CUSTOMER)


async def order_for_change(
    uow: FinanceUnitOfWork, order_id: str, user_id: int, roles: frozenset[Role]
) -> Order | None:
    """The order if the user may change it: their own, or any for customer service and the desk."""
    order = await order_or_none(uow, order_id)
    if order is not None and (may(roles, Duty.FILE_CHANGE) or order.customer.telegram_user_id == user_id):
        return order
    return None


def consent_note(user: User, roles: frozenset[Role]) -> str:
    """For customer service filing a caller's change: who recorded the caller's consent (R-1.4)."""
    return _("recorded by {name}").format(name=user.full_name) if may(roles, Duty.FILE_CHANGE) else ""

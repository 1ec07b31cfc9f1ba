"""Customer support agent for an online shop: order lookups, tracking, returns and refunds.

Exercises multi-step chains (customer -> orders -> order -> shipment), nested arguments (a list
of return items, an address object) and a refund policy stated in the instruction that the
agent must follow. Tools are local and deterministic: a fixed catalogue of customers and orders
with a fixed "today". `bench` replaces `model` with LiteLLM pointed at the vLLM server.
"""

from __future__ import annotations

from typing import Literal

from google.adk.agents import LlmAgent
from pydantic import BaseModel, Field

OrderStatus = Literal["processing", "shipped", "delivered", "cancelled"]
ReturnReason = Literal["damaged", "wrong_item", "not_needed", "other"]


class ReturnItem(BaseModel):
    """One line of a return."""

    sku: str = Field(description="The product's SKU as shown on the order, e.g. 'MUG-01'.")
    quantity: int = Field(description="How many units to return (at least 1).")


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str
    postal_code: str
    country: str = Field(description="Two-letter country code, e.g. 'DE'.")


_CUSTOMERS = {
    "ana@example.com": {"customer_id": "C-100", "name": "Ana Lima"},
    "ben@example.com": {"customer_id": "C-200", "name": "Ben Okafor"},
    "chloe@example.com": {"customer_id": "C-300", "name": "Chloe Martin"},
}
_ORDERS = {
    "A-1001": {
        "customer_id": "C-100",
        "status": "delivered",
        "days_since_delivery": 5,
        "total": 42.0,
        "items": [
            {"sku": "MUG-01", "name": "Mug", "quantity": 2, "price": 12.0},
            {"sku": "TEA-07", "name": "Green tea", "quantity": 3, "price": 6.0},
        ],
        "tracking_number": "TRK-555001",
    },
    "A-1002": {
        "customer_id": "C-100",
        "status": "shipped",
        "days_since_delivery": None,
        "total": 89.5,
        "items": [{"sku": "LAMP-3", "name": "Desk lamp", "quantity": 1, "price": 89.5}],
        "tracking_number": "TRK-555002",
    },
    "B-2001": {
        "customer_id": "C-200",
        "status": "delivered",
        "days_since_delivery": 45,
        "total": 120.0,
        "items": [{"sku": "BOOT-42", "name": "Hiking boots", "quantity": 1, "price": 120.0}],
        "tracking_number": "TRK-666001",
    },
    "B-2002": {
        "customer_id": "C-200",
        "status": "processing",
        "days_since_delivery": None,
        "total": 30.0,
        "items": [{"sku": "SOCK-5", "name": "Wool socks", "quantity": 5, "price": 6.0}],
        "tracking_number": None,
    },
    "C-3001": {
        "customer_id": "C-300",
        "status": "delivered",
        "days_since_delivery": 12,
        "total": 64.0,
        "items": [{"sku": "PLATE-2", "name": "Plate", "quantity": 4, "price": 16.0}],
        "tracking_number": "TRK-777001",
    },
}
_SHIPMENTS = {
    "TRK-555001": {
        "carrier": "DHL",
        "parcel_status": "delivered",
        "last_scan": "Lisbon, delivered",
    },
    "TRK-555002": {
        "carrier": "DHL",
        "parcel_status": "in transit",
        "last_scan": "Madrid hub",
        "expected_in_days": 2,
    },
    "TRK-666001": {"carrier": "UPS", "parcel_status": "delivered", "last_scan": "Lagos, delivered"},
    "TRK-777001": {
        "carrier": "La Poste",
        "parcel_status": "delivered",
        "last_scan": "Lyon, delivered",
    },
}
REFUND_WINDOW_DAYS = 30


def lookup_customer(email: str) -> dict:
    """Finds a customer account by email address.

    Args:
        email: The customer's email address, e.g. "ana@example.com".
    """
    customer = _CUSTOMERS.get(email.strip().lower())
    if customer is None:
        return {"status": "error", "error_message": f"No customer with email {email}."}
    return {"status": "success", **customer}


def list_orders(customer_id: str, status: OrderStatus | None = None) -> dict:
    """Lists a customer's orders, newest first.

    Args:
        customer_id: The id from lookup_customer, e.g. "C-100".
        status: Only orders in this status: "processing", "shipped", "delivered" or "cancelled".
    """
    orders = [
        {"order_id": oid, "status": o["status"], "total": o["total"]}
        for oid, o in sorted(_ORDERS.items(), reverse=True)
        if o["customer_id"] == customer_id and (status is None or o["status"] == status)
    ]
    return {"status": "success", "customer_id": customer_id, "orders": orders}


def get_order(order_id: str) -> dict:
    """Returns an order's items, total, status, delivery age and tracking number.

    Args:
        order_id: The order id, e.g. "A-1001".
    """
    order = _ORDERS.get(order_id.strip().upper())
    if order is None:
        return {"status": "error", "error_message": f"No order {order_id}."}
    return {"status": "success", "order_id": order_id, "order": order}


def track_shipment(tracking_number: str) -> dict:
    """Returns where a parcel is.

    Args:
        tracking_number: The tracking number from get_order, e.g. "TRK-555002".
    """
    shipment = _SHIPMENTS.get(tracking_number.strip().upper())
    if shipment is None:
        return {"status": "error", "error_message": f"Unknown tracking number {tracking_number}."}
    return {"status": "success", "tracking_number": tracking_number, **shipment}


def create_return(order_id: str, items: list[ReturnItem], reason: ReturnReason) -> dict:
    """Opens a return for some items of a delivered order and returns a return label id.

    Args:
        order_id: The order id, e.g. "A-1001".
        items: The items to send back, each {"sku": ..., "quantity": ...}.
        reason: "damaged", "wrong_item", "not_needed" or "other".
    """
    order = _ORDERS.get(order_id)
    if order is None:
        return {"status": "error", "error_message": f"No order {order_id}."}
    if order["status"] != "delivered":
        return {"status": "error", "error_message": "Only delivered orders can be returned."}
    ordered = {line["sku"]: line["quantity"] for line in order["items"]}
    lines = [ReturnItem.model_validate(i) if isinstance(i, dict) else i for i in items]
    for line in lines:
        if line.quantity < 1 or ordered.get(line.sku, 0) < line.quantity:
            return {
                "status": "error",
                "error_message": f"Cannot return {line.quantity} x {line.sku}.",
            }
    label = f"RET-{order_id}-{sum(line.quantity for line in lines)}"
    return {"status": "success", "return_id": label, "reason": reason}


def update_shipping_address(order_id: str, address: Address) -> dict:
    """Changes where an order that has not shipped yet will be delivered.

    Args:
        order_id: The order id, e.g. "B-2002".
        address: The new address: street, city, postal_code and a two-letter country code.
    """
    order = _ORDERS.get(order_id)
    if order is None:
        return {"status": "error", "error_message": f"No order {order_id}."}
    if order["status"] != "processing":
        return {"status": "error", "error_message": "The order has already shipped."}
    addr = Address.model_validate(address) if isinstance(address, dict) else address
    return {"status": "success", "order_id": order_id, "ship_to": addr.model_dump()}


def issue_refund(order_id: str, amount: float, reason: str) -> dict:
    """Refunds money for an order to the original payment method.

    Args:
        order_id: The order id, e.g. "A-1001".
        amount: The amount in euros; at most the order total.
        reason: A short reason for the refund, in the customer's words.
    """
    order = _ORDERS.get(order_id)
    if order is None:
        return {"status": "error", "error_message": f"No order {order_id}."}
    if amount <= 0 or amount > order["total"]:
        return {"status": "error", "error_message": "The amount exceeds the order total."}
    return {"status": "success", "refund_id": f"RF-{order_id}", "amount": amount}


root_agent = LlmAgent(
    name="customer_support_agent",
    model="gemini-2.5-flash",
    description="Helps shop customers with orders, deliveries, returns and refunds.",
    instruction=(
        "You are the support agent of an online shop.\n"
        "To find a customer's orders, call lookup_customer with their email, then list_orders "
        "with the customer_id it returns. To answer 'where is my order', call get_order, then "
        "track_shipment with its tracking number.\n"
        "Refund policy (always follow it): before any refund call get_order; refund only "
        f"orders whose status is 'delivered' and whose days_since_delivery is at most "
        f"{REFUND_WINDOW_DAYS}; never refund more than the order total. When the policy does not "
        "allow a refund, do not call issue_refund: explain the policy and offer a return instead.\n"
        "Returns: use create_return with the SKUs and quantities from the order.\n"
        "Address changes: only for orders in 'processing', with update_shipping_address.\n"
        "Questions about opening hours or the policies themselves need no tool: answer them "
        "directly. Our support hours are 9:00 to 17:00, Monday to Friday."
    ),
    tools=[
        lookup_customer,
        list_orders,
        get_order,
        track_shipment,
        create_return,
        update_shipping_address,
        issue_refund,
    ],
)

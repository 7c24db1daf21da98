"""The shelf: the pharmacy's inventory as a ledger (receiving, dispensing, recall).

So far: :mod:`dosing.shelf.gs1`, reading the GS1 element strings a barcode
scanner types from a vial or carton.
"""

from dosing.shelf.gs1 import GS, Scan, check_digit, parse_element_string

__all__ = ["GS", "Scan", "check_digit", "parse_element_string"]

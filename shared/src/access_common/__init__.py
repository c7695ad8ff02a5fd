"""access_common: the shared platform library of the 254Carbon Access Layer."""

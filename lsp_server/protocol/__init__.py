"""The only package that speaks LSP (pygls / lsprotocol): it decodes messages, routes each
method to a feature (completion/, fixes/), and encodes the answers. Handlers stay a few lines each."""

from .handlers import create_server

__all__ = ["create_server"]

"""Dependencies as annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.node import Node


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]

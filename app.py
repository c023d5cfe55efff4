#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` synthesizes every environment of cdk.json, `cdk deploy 'dev/*'` one."""

from stacks.application import create_app

create_app().synth()

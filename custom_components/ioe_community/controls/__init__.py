"""Control entities for batteries and chargers, behind the safety layer that bounds setpoints."""
